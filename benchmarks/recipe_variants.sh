#!/usr/bin/env bash
# Recipe variants, one variable at a time, judged on 2,000 validation queries (docs/recipe.md).
#
#   benchmarks/recipe_variants.sh OUT STEPS 'name|--set k=v --set k=v' ['name|...' ...]
#
# Each variant trains configs/cpu-1h.yaml (or $CONFIG) for STEPS steps with a cosine schedule over those
# steps (warm-up a tenth of them), then `graphmer-launch eval --split val --max-queries 2000` scores it.
# Why not the training log's validation: its 256 queries hold a different mix of relations and picked the
# wrong recipe once (docs/recipe.md, the wider feed-forward). Quality depends on steps only, so a busy
# machine slows this down without changing its numbers; a variant whose OUT/name.json exists is skipped,
# so a stopped sweep goes on where it was. Run the variants one after another, never side by side: each
# already uses every core.
set -euo pipefail
out=${1:?usage: recipe_variants.sh OUT STEPS 'name|--set k=v ...' ...}
steps=${2:?give the number of steps per variant}
shift 2
config=${CONFIG:-configs/cpu-1h.yaml}
launch=${LAUNCH:-graphmer-launch}
mkdir -p "$out"
for variant in "$@"; do
    name=${variant%%|*}
    overrides=${variant#*|}
    [ "$overrides" = "$variant" ] && overrides=""
    if [ ! -f "$out/$name.json" ]; then
        rm -rf "$out/run-$name"
        # shellcheck disable=SC2086  # the overrides are several words on purpose
        $launch --platform local --config "$config" --steps "$steps" \
            --set train.warmup_steps=$((steps / 10)) --set train.eval_every="$steps" \
            --set checkpoint.every_steps="$steps" $overrides --run-dir "$out/run-$name" > "$out/$name.log" 2>&1
        $launch eval --checkpoint "$out/run-$name" --split val --max-queries 2000 --json "$out/$name.json" \
            >> "$out/$name.log" 2>&1
    fi
    python - "$name" "$out/$name.json" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
per = d["per_relation"]
print(f"{name:24s} tail MRR {d['tail_mrr']:.4f} vs most-frequent tail {d['baseline']['tail_mrr']:.4f} "
      f"({d['tail_mrr_vs_baseline']:.3f}x) on {d['num_queries']} queries; MLM {d['mlm_accuracy']:.2%} over "
      f"{d['mlm_masked_roots']} roots; " + ", ".join(f"{k} {v['tail_mrr']:.3f}" for k, v in sorted(per.items())
                                                     if v["num_queries"] >= 100))
EOF
done
