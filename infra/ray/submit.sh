#!/usr/bin/env bash
# Submit a graphmer-dist training job to a running Ray cluster.
#
#   infra/ray/submit.sh [RAY JOB SUBMIT FLAGS ... --] [GRAPHMER-LAUNCH FLAGS ...]
#
#   RAY_ADDRESS=http://HEAD:8265 infra/ray/submit.sh --run-dir s3://bucket/runs/a --config graphmer-se-85m
#   infra/ray/submit.sh --no-wait --submission-id run-a -- --run-dir s3://bucket/runs/a
#
# Runs `graphmer-launch --platform cluster --resume auto ...` on the cluster, with this checkout as the job's
# working directory (so the code you submit is the code that runs) minus the virtual environment, run
# folders and datasets. Re-submitting with the same --run-dir continues from its newest checkpoint.
# RAY_ADDRESS is the job API (dashboard) address; it defaults to http://127.0.0.1:8265, which is where
# `ray dashboard infra/ray/cluster.yaml` forwards it. Run from the repository root.
set -euo pipefail

cd "$(dirname "$0")/../.."
export RAY_ADDRESS="${RAY_ADDRESS:-http://127.0.0.1:8265}"

# Flags before a "--" go to `ray job submit`; everything else goes to graphmer-launch.
ray_flags=()
if [[ " $* " == *" -- "* ]]; then
  while [[ $# -gt 0 && "$1" != "--" ]]; do ray_flags+=("$1"); shift; done
  shift
fi

# .gitignore'd folders are skipped by Ray too, but say it explicitly: the working_dir upload limit is 512 MiB.
runtime_env='{"excludes": ["/.venv", "/.git", "/runs", "/data", "/build", "**/__pycache__", "*.egg-info", ".pytest_cache"]}'

exec ray job submit --address "$RAY_ADDRESS" --working-dir . --runtime-env-json "$runtime_env" \
  "${ray_flags[@]}" -- graphmer-launch --platform cluster --resume auto "$@"
