"""`graphmer-launch kaggle bundle`: the kernel metadata, the generated script, and the errors it refuses with."""

import importlib.util
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from graphmer_dist.errors import ConfigError
from launch import cli
from launch.cmd_kaggle import SOURCE_ROOT
from launch.cmd_kaggle import main as kaggle_main
from launch.kaggle_bundle import CODE_FILE, METADATA_FILE, KaggleBundleOptions, write_bundle

KERNEL_ID = "alice/graphmer-se-train"
REQUIRED_METADATA = {"id", "title", "code_file", "language", "kernel_type", "is_private", "enable_gpu",
                     "enable_internet", "dataset_sources", "kernel_sources", "competition_sources"}


def bundle(tmp_path: Path, *flags: str) -> tuple[dict, dict]:
    """Run the real CLI; returns (metadata, the script's module namespace)."""
    out = tmp_path / "kernel"
    assert cli.main(["kaggle", "bundle", "--out", str(out), *flags]) == 0
    metadata = json.loads((out / METADATA_FILE).read_text())
    script = runpy.run_path(str(out / metadata["code_file"]), run_name="kaggle_script")
    return metadata, script


def test_metadata_follows_kaggles_format(tmp_path):
    metadata, _ = bundle(tmp_path, "--id", KERNEL_ID, "--dataset-source", "alice/graphmer-run-1",
                         "--kernel-source", KERNEL_ID, "--no-internet")
    assert REQUIRED_METADATA <= set(metadata)
    assert metadata["id"] == KERNEL_ID
    # Kaggle derives the slug from the title; a mismatch would make Kaggle rename the kernel.
    assert metadata["title"].lower().replace(" ", "-") == KERNEL_ID.split("/")[1]
    assert (metadata["code_file"], metadata["language"], metadata["kernel_type"]) == (CODE_FILE, "python", "script")
    assert metadata["enable_gpu"] is True and metadata["is_private"] is True
    assert metadata["enable_internet"] is False
    assert metadata["dataset_sources"] == ["alice/graphmer-run-1"]
    assert metadata["kernel_sources"] == [KERNEL_ID]


def test_internet_and_visibility_flags(tmp_path):
    metadata, script = bundle(tmp_path, "--id", KERNEL_ID, "--public")
    assert metadata["enable_internet"] is True and metadata["is_private"] is False
    assert metadata["dataset_sources"] == [] and metadata["kernel_sources"] == []
    assert "--no-index" not in script["pip_command"]("/tmp/src")


def test_script_runs_the_kaggle_command_with_config_and_extra_flags(tmp_path):
    _, script = bundle(tmp_path, "--id", KERNEL_ID, "--config", "cpu-small",
                       "--extra=--steps 5000 --set train.lr=3e-4")
    command = script["COMMAND"]
    assert command[:5] == ["graphmer-launch", "--platform", "kaggle", "--resume", "auto"]
    assert command[5:] == ["--config", "cpu-small", "--steps", "5000", "--set", "train.lr=3e-4"]
    args = cli.build_parser(None).parse_args(command[1:])
    assert (args.platform, args.resume, args.config, args.steps) == ("kaggle", "auto", "cpu-small", 5000)


def test_an_explicit_resume_replaces_the_default(tmp_path):
    _, script = bundle(tmp_path, "--id", KERNEL_ID, "--extra=--resume never")
    assert script["COMMAND"].count("--resume") == 1
    assert cli.build_parser(None).parse_args(script["COMMAND"][1:]).resume == "never"


def test_embedded_source_is_this_checkout_and_installable(tmp_path):
    _, script = bundle(tmp_path, "--id", KERNEL_ID)
    target = Path(script["unpack_source"](str(tmp_path / "src")))
    for relative in ("pyproject.toml", "launch/cli.py", "graphmer_dist/config.py", "configs/tiny.yaml"):
        assert (target / relative).read_bytes() == (SOURCE_ROOT / relative).read_bytes()
    shipped = {p.relative_to(SOURCE_ROOT) for p in (SOURCE_ROOT / "platforms").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert shipped and shipped == {p.relative_to(target) for p in (target / "platforms").rglob("*.py")}
    assert not list(target.rglob("__pycache__"))
    # The first thing the kernel's `pip install -e` does with the folder, offline: read the project.
    meta = tmp_path / "meta"
    meta.mkdir()
    prepared = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                               "print(build_meta.prepare_metadata_for_build_editable(sys.argv[1]))", str(meta)],
                              cwd=target, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    dist_info = meta / prepared.stdout.strip().splitlines()[-1]
    assert "graphmer-launch = launch.cli:main" in (dist_info / "entry_points.txt").read_text()


def test_install_follows_the_makefile_and_respects_no_internet(tmp_path):
    _, script = bundle(tmp_path, "--id", KERNEL_ID, "--no-internet")
    pip = script["pip_command"]("/tmp/graphmer-dist")
    assert pip[1:4] == ["-m", "pip", "install"]
    assert {"--no-build-isolation", "--no-index", "--no-deps"} <= set(pip)
    assert pip[-2:] == ["-e", "/tmp/graphmer-dist[deepspeed]"]


def test_install_from_a_requirement_embeds_nothing(tmp_path):
    requirement = "graphmer-dist[deepspeed] @ git+https://github.com/alice/graphmer-dist"
    _, script = bundle(tmp_path, "--id", KERNEL_ID, "--install-from", requirement)
    assert "".join(script["SOURCE_ZIP"]) == ""
    assert script["pip_command"](None)[-1] == requirement


def test_same_checkout_gives_identical_bundles(tmp_path):
    options = KaggleBundleOptions(kernel_id=KERNEL_ID, config="tiny")
    first = write_bundle(options, tmp_path / "a", SOURCE_ROOT)
    second = write_bundle(options, tmp_path / "b", SOURCE_ROOT)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_default_id_comes_from_the_kaggle_username(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    metadata, _ = bundle(tmp_path)
    assert metadata["id"] == "bob/graphmer-se-train"


@pytest.mark.parametrize("flags,message", [
    (["--extra=--stepz 5"], r"unrecognized arguments: --stepz 5"),
    (["--extra=--precision bf17"], r"invalid choice: 'bf17'"),
    (["--extra=--platform colab"], r"must not set --platform"),
    (["--config", "no-such-config"], r"--config 'no-such-config' is not a config in .*configs"),
    (["--install-from", "graphmer-dist", "--no-internet"], r"--install-from needs the kernel's internet"),
    (["--dataset-source", "not a slug"], r"source 'not a slug' is not OWNER/SLUG"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, flags, message):
    out = tmp_path / "kernel"
    code = cli.main(["kaggle", "bundle", "--out", str(out), "--id", KERNEL_ID, *flags])
    assert code == ConfigError.exit_code
    assert not out.exists() or not any(out.iterdir())
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("kernel_id", ["alice", "alice/Graphmer", "alice/abc", "alice/graphmer_se"])
def test_kernel_ids_kaggle_would_reject(kernel_id):
    with pytest.raises(ConfigError, match=r"is not a Kaggle kernel id; use OWNER/SLUG"):
        KaggleBundleOptions(kernel_id=kernel_id)


def test_missing_id_without_kaggle_username(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    with pytest.raises(ConfigError, match=r"needs the kernel's id: pass --id OWNER/SLUG"):
        kaggle_main(["bundle", "--out", str(tmp_path / "kernel")])


@pytest.mark.slow  # a subprocess that imports torch: a few seconds
def test_script_hands_its_command_to_our_cli_on_a_simulated_kaggle(tmp_path, monkeypatch, capfd):
    """Kaggle simulated by its environment variable and folders under a temporary root; the script's
    `train()` runs the real CLI (as a dry run, so it plans instead of training)."""
    out = tmp_path / "kernel"
    write_bundle(KaggleBundleOptions(kernel_id=KERNEL_ID, config="tiny", extra_args=("--dry-run", "--json")),
                 out, SOURCE_ROOT)
    spec = importlib.util.spec_from_file_location("kaggle_script", out / CODE_FILE)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    monkeypatch.setenv("GRAPHMER_PLATFORM_ROOT", str(tmp_path))
    for folder in ("kaggle/working", "kaggle/input", "kaggle/temp"):
        (tmp_path / folder).mkdir(parents=True)
    script.WORKING_DIR = str(tmp_path / "kaggle/working")
    assert script.train() == 0
    plan = json.loads(capfd.readouterr().out.split("\n", 1)[1])  # after the "running: ..." line
    assert plan["platform"] == "kaggle" and plan["assumed_hardware"] is False
    assert plan["run_dir"] == str(tmp_path / "kaggle/working/runs/tiny")
    assert plan["resume_roots"] == [str(tmp_path / "kaggle/input")]
