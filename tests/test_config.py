"""The strict config loader: shipped configs, overrides, and every kind of bad input."""

import json
import subprocess
import sys

import pytest

from graphmer_dist.config import Config, parse_duration
from graphmer_dist.config_loader import CONFIG_DIR, config_from_dict, load_config
from graphmer_dist.errors import ConfigError


@pytest.mark.parametrize("name,d,layers,heads,ffn,seq", [
    ("tiny", 64, 2, 2, 128, 64),
    ("cpu-small", 128, 2, 4, 512, 512),
    ("graphmert-base", 512, 12, 8, 2048, 1024),
    ("graphmer-se-85m", 768, 12, 12, 3072, 512),
])
def test_shipped_configs_have_the_documented_shapes(name, d, layers, heads, ffn, seq):
    cfg = load_config(name)
    m = cfg.model
    assert (m.hidden_size, m.num_layers, m.num_heads, m.ffn_size, m.seq_len) == (d, layers, heads, ffn, seq)
    assert cfg.name == name


def test_every_shipped_yaml_loads():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert len(names) >= 4
    for name in names:
        load_config(name)


def test_overrides_are_typed_and_win_over_yaml():
    cfg = load_config("tiny", ["train.lr=3e-4", "train.steps=7", "data.corpus=a,b", "parallel.offload_optimizer=false"])
    assert cfg.train.lr == pytest.approx(3e-4) and cfg.train.steps == 7
    assert cfg.data.corpus == ["a", "b"] and cfg.parallel.offload_optimizer is False


def test_dict_round_trip_preserves_the_hash():
    cfg = load_config("cpu-small", ["train.seed=3"])
    again = config_from_dict(json.loads(cfg.to_json()))
    assert again == cfg and again.hash() == cfg.hash()
    assert cfg.hash() != load_config("cpu-small").hash()
    assert cfg.model_hash() == load_config("cpu-small").model_hash()


def test_unknown_keys_are_all_listed_with_suggestions(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  hiden_size: 3\n  num_layer: 2\n")
    with pytest.raises(ConfigError, match=r"hiden_size.*did you mean 'hidden_size'.*num_layer"):
        load_config(path)


def test_unknown_section(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trainer:\n  steps: 3\n")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['trainer'\]"):
        load_config(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model:\n  hidden_size: [1, 2\ntrain: {}\n")
    with pytest.raises(ConfigError, match=r"broken.yaml is not valid YAML at line \d+"):
        load_config(path)


@pytest.mark.parametrize("override,match", [
    ("train.steps=many", r"'train.steps' expects an integer"),
    ("train.lr=fast", r"'train.lr' expects a number"),
    ("train.precision=fp8", r"'fp8' is not one of"),
    ("model.num_heads=3", r"not divisible by model.num_heads=3"),
    ("parallel.zero_stage=2", r"need --strategy deepspeed"),
    ("checkpoint.keep=1", r"keep at least 2"),
    ("train.time_limit=soon", r"not a duration"),
    ("nosection.x=1", r"unknown section 'nosection'"),
    ("train.steps", r"not of the form section.key=value"),
])
def test_bad_overrides_are_refused_with_the_key(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", [override])


def test_wrong_type_in_yaml(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("train:\n  steps: '10'\n")
    with pytest.raises(ConfigError, match=r"'train.steps' expects an integer, got '10'"):
        load_config(path)


def test_missing_config_lists_shipped_names():
    with pytest.raises(ConfigError, match=r"does not exist.*cpu-small.*tiny"):
        load_config("no-such-config")


def test_global_batch_must_split_over_workers():
    with pytest.raises(ConfigError, match="micro_batch_size × num_workers"):
        Config().replace(parallel={"strategy": "ddp", "num_workers": 3})


def test_durations():
    assert parse_duration("11h30m") == 41400.0
    assert parse_duration("90s") == 90.0 and parse_duration("") is None and parse_duration("12") == 12.0


def test_cli_prints_config_error_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: [")
    proc = subprocess.run([sys.executable, "-m", "launch.cli", "data", "--config", str(path), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr


def test_a_model_option_added_later_keeps_older_checkpoints_resumable_while_off():
    """A config.json written before `length_head` existed reads back with it off and the same model_hash;
    switching it on is another architecture."""
    cfg = load_config("tiny")
    older = json.loads(cfg.to_json())
    for key in ("length_head", "copy_span"):
        del older["model"][key]
    assert config_from_dict(older).model_hash() == cfg.model_hash()
    assert load_config("tiny", ["model.length_head=true"]).model_hash() != cfg.model_hash()
