"""One path for overrides (issue 15): --set text is parsed once, by the config loader; the plan and the
Ray driver work on typed values; platform names come from the registry."""

from __future__ import annotations

import pytest

import platforms
from graphmer_dist.config_loader import config_from_dict, load_config, parse_overrides
from graphmer_dist.errors import ConfigError
from launch import cli
from launch.plan import explicit_choices, make_plan


def test_parse_overrides_types_each_value_by_its_field():
    typed = parse_overrides(["train.lr=3e-4", "parallel.num_workers=2", "parallel.offload_optimizer=yes",
                             "data.languages=[python,java]", "train.lr=1e-3"])
    assert typed == {"train.lr": 1e-3, "parallel.num_workers": 2, "parallel.offload_optimizer": True,
                     "data.languages": ["python", "java"]}
    assert type(typed["train.lr"]) is float and type(typed["parallel.num_workers"]) is int


@pytest.mark.parametrize("item, message", [
    ("parallel.num_workers=two", r"'parallel.num_workers' expects an integer, got 'two'"),
    ("parallel.strategy=fsdp", r"'parallel.strategy': 'fsdp' is not one of"),
    ("parallel.num_worker=2", r"unknown key 'num_worker'.*did you mean 'num_workers'"),
])
def test_a_bad_override_is_refused_by_the_loader_before_any_plan(item, message, capsys):
    with pytest.raises(ConfigError, match=message):
        parse_overrides([item])
    assert cli.main(["--platform", "local", "--config", "tiny", "--set", item, "--dry-run"]) != 0
    assert item.split("=")[0].split(".")[1] in capsys.readouterr().err  # the one-paragraph error names the key


def test_the_plan_takes_the_loaders_typed_values():
    config = load_config("tiny")
    spec = platforms.resolve("local")
    typed = parse_overrides(["parallel.strategy=ddp", "parallel.num_workers=2", "train.micro_batch_size=2"])
    assert explicit_choices(config, typed) == {"parallel.strategy": "ddp", "parallel.num_workers": 2,
                                               "train.micro_batch_size": 2}
    plan = make_plan(spec, config, typed)
    assert (plan.strategy, plan.num_workers, plan.micro_batch_size) == ("ddp", 2, 2)
    with pytest.raises(ConfigError, match=r"parallel.num_workers': 0 is out of range"):
        make_plan(spec, config, {"parallel.num_workers": 0})


def test_platform_choices_are_the_registry():
    action = next(a for a in cli.build_parser()._actions if a.dest == "platform")
    assert set(action.choices) == {"auto", *platforms.REGISTRY}


def test_the_ray_driver_gets_the_typed_configs_dict(monkeypatch, tiny_dataset, tmp_path):
    """run_with_ray receives plan.config (with the worker threads resolved) as a plain dict and does not
    rebuild it: the dict round-trips through the loader unchanged."""
    import launch.ray_driver
    from launch import runner

    seen = {}

    def fake_run_with_ray(job, use_gpu, address):
        seen.update(job)
        return 0, {"step": 2}

    monkeypatch.setattr(launch.ray_driver, "run_with_ray", fake_run_with_ray)
    typed = parse_overrides(["parallel.strategy=ddp", "parallel.num_workers=2", "train.steps=2",
                             f"data.dataset_dir={tiny_dataset}", f"checkpoint.run_dir={tmp_path}"])
    config = load_config("tiny", {k: v for k, v in typed.items() if not k.startswith("parallel.")})
    plan = make_plan(platforms.resolve("local"), config, typed)
    assert runner.run(plan) == 0
    received = config_from_dict(seen["config"])
    assert received.to_dict() == seen["config"]
    assert received == plan.config.replace(train={"num_threads": plan.cpus_per_worker})
