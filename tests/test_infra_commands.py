"""Every `graphmer-launch` command written in infra/, the notebooks and docs/platforms.md is accepted by our
own argument parser, so renaming a flag without updating them fails here."""

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from launch import bench_suite, cli

ROOT = Path(__file__).resolve().parent.parent
SUBMIT_SH = ROOT / "infra/ray/submit.sh"
SUBMIT_BASE = ["graphmer-launch", "--platform", "cluster", "--resume", "auto"]
"""What submit.sh puts before its arguments (checked against the script itself below)."""
_STOP = re.compile(r"`|&&|\|\||[|;)]| #|\"\$@\"|\.\.\.")


def commands_in_text(text: str) -> list[list[str]]:
    """`graphmer-launch ...` and `infra/ray/submit.sh ...` commands, each up to where the shell command ends."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        for match in re.finditer(r"(?<![\w/-])(graphmer-launch|infra/ray/submit\.sh)(?=\s|$)(.*)", line):
            rest = _STOP.split(match.group(2), maxsplit=1)[0]
            if "[" in rest:  # a usage synopsis like `[FLAGS ...]`, not a command
                continue
            words = shlex.split(rest)
            if match.group(1) == "graphmer-launch":
                found.append(["graphmer-launch", *words])
            else:
                found.append(SUBMIT_BASE + (words[words.index("--") + 1:] if "--" in words else words))
    return found


def yaml_strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in yaml_strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in yaml_strings(value)]
    return [node] if isinstance(node, str) else []


def infra_texts() -> dict[str, str]:
    """Each infra file as the text its commands live in (YAML values unfolded, notebook cells joined)."""
    texts = {}
    for path in sorted((ROOT / "infra").rglob("*")):
        name = str(path.relative_to(ROOT))
        if path.suffix in (".yaml", ".yml"):
            texts[name] = path.read_text() + "\n" + "\n".join(yaml_strings(yaml.safe_load(path.read_text())))
        elif path.suffix == ".ipynb":
            texts[name] = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        elif path.is_file():
            texts[name] = path.read_text()
    for doc in ("docs/platforms.md", "README.md"):
        texts[doc] = (ROOT / doc).read_text()
    return texts


def parse_command(command: list[str]) -> None:
    """Parse with the parser `graphmer-launch` itself uses; any argparse error fails with its message."""
    assert command[0] == "graphmer-launch"
    argv = command[1:]
    subcommand = argv[0] if argv and argv[0] in cli.SUBCOMMANDS else None
    args = argv[1:] if subcommand else argv
    parser = cli.build_parser(subcommand)
    if subcommand == "bench" and "--suite" in args:  # `bench --suite` hands its flags to the suite's parser
        parser, args = bench_suite.build_parser(), [a for a in args if a != "--suite"]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exc:
        assert exc.code == 0, f"`{shlex.join(command)}` is refused by our CLI: {stderr.getvalue().strip()}"


COMMANDS = [(name, command) for name, text in infra_texts().items() for command in commands_in_text(text)]


@pytest.mark.parametrize("name,command", COMMANDS, ids=[f"{n}:{' '.join(c[1:4])}" for n, c in COMMANDS])
def test_every_written_command_parses(name, command):
    parse_command(command)


def test_the_scan_finds_the_commands_that_matter():
    """A scan that found nothing would pass vacuously: pin one command per platform file."""
    by_file: dict[str, list[list[str]]] = {}
    for name, command in COMMANDS:
        by_file.setdefault(name, []).append(command)
    for name, platform in [("infra/k8s/rayjob.yaml", "cluster"), ("infra/ray/submit.sh", "cluster"),
                           ("infra/notebooks/colab.ipynb", "colab"), ("infra/notebooks/modelscope.ipynb", "modelscope"),
                           ("docs/platforms.md", "kaggle"), ("README.md", "kaggle")]:
        assert any(c[c.index("--platform") + 1] == platform for c in by_file[name] if "--platform" in c), name
    assert any(c[1:3] == ["kaggle", "bundle"] for c in by_file["docs/platforms.md"])


def test_a_renamed_flag_would_be_caught():
    [command] = commands_in_text("!graphmer-launch --platform colab --run-folder /content/drive  # a typo'd flag")
    with pytest.raises(AssertionError, match="unrecognized arguments: --run-folder"):
        parse_command(command)


def test_submit_sh_base_command_matches_the_script():
    text = SUBMIT_SH.read_text()
    assert f'-- {shlex.join(SUBMIT_BASE)} "$@"' in text


@pytest.fixture
def ray_recorder(tmp_path):
    """A `ray` executable that records its arguments and working directory: the job submission itself
    needs a running cluster, so only the command line the wrapper builds is checked here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ray").write_text('#!/bin/sh\npwd > "$RECORD.cwd"\n'
                                 'for a in "$@"; do printf "%s\\n" "$a"; done > "$RECORD"\n')
    (bin_dir / "ray").chmod(0o755)
    record = tmp_path / "ray-args"

    def run(*args: str, address: str | None = None) -> tuple[list[str], str]:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORD": str(record)}
        env.pop("RAY_ADDRESS", None)
        if address:
            env["RAY_ADDRESS"] = address
        subprocess.run(["bash", str(SUBMIT_SH), *args], check=True, env=env, cwd=tmp_path)
        return record.read_text().splitlines(), Path(f"{record}.cwd").read_text().strip()
    return run


def test_submit_sh_builds_the_job_command(ray_recorder):
    argv, cwd = ray_recorder("--no-wait", "--", "--config", "tiny", "--run-dir", "s3://b/runs/a",
                             address="http://head:8265")
    assert Path(cwd) == ROOT, "--working-dir . must be the repository, wherever the script is called from"
    assert argv[:2] == ["job", "submit"]
    assert argv[argv.index("--address") + 1] == "http://head:8265"
    assert argv[argv.index("--working-dir") + 1] == "."
    excludes = json.loads(argv[argv.index("--runtime-env-json") + 1])["excludes"]
    assert {"/.venv", "/runs", "/data"} <= set(excludes)
    # Ray matches excludes like .gitignore: an unanchored name would also drop a package folder of that name
    package_dirs = {p.name for p in ROOT.glob("*/*") if p.is_dir() and (p / "__init__.py").exists()}
    assert not package_dirs & set(excludes), f"excludes drop package folders: {package_dirs & set(excludes)}"
    separator = argv.index("--")
    assert "--no-wait" in argv[:separator]
    job = argv[separator + 1:]
    assert job == SUBMIT_BASE + ["--config", "tiny", "--run-dir", "s3://b/runs/a"]
    parse_command(job)


def test_submit_sh_defaults_to_the_forwarded_dashboard(ray_recorder):
    argv, _ = ray_recorder("--steps", "10")
    assert argv[argv.index("--address") + 1] == "http://127.0.0.1:8265"
    assert argv[argv.index("--") + 1:] == SUBMIT_BASE + ["--steps", "10"]
