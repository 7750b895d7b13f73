"""Plans for every shipped config on every target platform, and refusals of impossible choices."""

from __future__ import annotations

import pytest
import torch
from platform_sim import simulate

import platforms
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from graphmer_dist.model import GraphMERForPretraining
from launch.memory_estimate import param_count
from launch.plan import make_plan
from platforms.cluster import describe_from_resources
from platforms.hardware import GIB

SHIPPED = ("tiny", "cpu-small", "graphmer-se-85m", "graphmert-base")
CLUSTER_RUN_DIR = "checkpoint.run_dir=s3://bucket/runs"
# A ~1.34B-parameter variant whose model states alone exceed a 15 GB T4 (ZeRO-3 at micro-batch 1 just fits).
HUGE = ("model.hidden_size=2048", "model.num_layers=24", "model.num_heads=16", "model.ffn_size=8000",
        "model.unpad=false")  # sized with the padded activations (all N nodes)


@pytest.fixture
def away(monkeypatch, tmp_path):
    """Planning from this machine, which is none of the hosted platforms."""
    simulate(monkeypatch, tmp_path, "local")
    return tmp_path


def a100_cluster():
    resources = {"CPU": 4 * 96.0, "GPU": 32.0, "memory": 4 * 1000.0 * GIB, "accelerator_type:A100": 4.0}
    return describe_from_resources(resources, num_nodes=4, address="ray://head:10001")


def auto_precision(spec) -> str:
    """What 'auto' must give on a probed machine: bf16 where native, fp16 on GPUs without it, else fp32."""
    return "bf16" if spec.bf16 else "fp16" if spec.accelerator == "cuda" else "fp32"


def target_specs():
    here = platforms.resolve("local")  # this machine as probed: a CPU in CI, a GPU elsewhere
    return {
        "rtx3070": (platforms.resolve("local", "RTX3070"), "bf16", 1),
        "kaggle-2xT4": (platforms.resolve("kaggle", "2xT4"), "fp16", 2),
        "kaggle-P100": (platforms.resolve("kaggle", "P100"), "fp16", 1),
        "colab-T4": (platforms.resolve("colab"), "fp16", 1),
        "modelscope-A10": (platforms.resolve("modelscope"), "bf16", 1),
        "cluster-4x8xA100": (a100_cluster(), "bf16", 32),
        "this-machine": (here, auto_precision(here), here.num_devices if here.accelerator == "cuda" else 1),
    }


@pytest.mark.parametrize("config_name", SHIPPED)
@pytest.mark.parametrize("target", ["rtx3070", "kaggle-2xT4", "kaggle-P100", "colab-T4", "modelscope-A10",
                                    "cluster-4x8xA100", "this-machine"])
def test_shipped_config_plans_on_every_target(away, config_name, target):
    spec, precision, devices = target_specs()[target]
    overrides = [CLUSTER_RUN_DIR] if spec.multi_node else []
    config = load_config(config_name, overrides)
    plan = make_plan(spec, config, overrides)
    global_batch = config.train.global_batch_size
    expected_workers = max(w for w in range(1, devices + 1) if global_batch % w == 0)
    assert plan.num_workers == expected_workers
    assert plan.strategy == ("single" if expected_workers == 1 else "ddp") and plan.zero_stage == 0
    assert plan.precision == precision and plan.config.train.precision == precision
    assert plan.estimated_memory_bytes <= plan.usable_memory_bytes < plan.device_memory_bytes
    assert plan.micro_batch_size * plan.grad_accum_steps * plan.num_workers == global_batch == plan.global_batch_size
    assert plan.micro_batch_size <= config.train.micro_batch_size
    assert plan.config.parallel.num_workers == plan.num_workers and plan.config.grad_accum_steps == plan.grad_accum_steps
    assert plan.use_gpu == (spec.accelerator == "cuda") and plan.config.train.device == spec.accelerator


def test_micro_batch_shrinks_until_activations_fit_on_an_8_gb_gpu(away):
    spec = platforms.resolve("local", "RTX3070")
    plan = make_plan(spec, load_config("graphmert-base", ["model.unpad=false"]))   # all N = 1024 nodes
    assert plan.micro_batch_size < 16 and plan.strategy == "single"
    assert plan.micro_batch_size * plan.grad_accum_steps == 128
    unpadded = make_plan(spec, load_config("graphmert-base"))     # only the non-empty nodes: more fit
    assert unpadded.micro_batch_size > plan.micro_batch_size


def test_model_states_too_big_for_ddp_choose_the_lowest_zero_stage_that_fits(away):
    spec = platforms.resolve("kaggle", "2xT4")
    plan = make_plan(spec, load_config("graphmer-se-85m", HUGE))
    # DeepSpeed's own estimator: ZeRO-2 keeps 2 + 18/2 bytes per param (14.8 GB of 1.34B) on each T4.
    assert (plan.strategy, plan.zero_stage, plan.offload_optimizer) == ("deepspeed", 3, False)
    assert plan.estimated_memory_bytes <= plan.usable_memory_bytes
    with pytest.raises(ConfigError, match="does not fit: even at micro-batch 1 with deepspeed ZeRO-1"):
        make_plan(spec, load_config("graphmer-se-85m", HUGE), ["parallel.strategy=deepspeed", "parallel.zero_stage=1"])


def test_one_gpu_that_cannot_hold_the_optimizer_offloads_it_to_ram(away):
    # ~0.96B parameters: too big for 16 bytes/param on the P100, small enough for DeepSpeed's offload
    # host estimate (24 bytes/param) in Kaggle's 29 GiB; the 1.34B HUGE model fits neither.
    plan = make_plan(platforms.resolve("kaggle", "P100"), load_config("graphmer-se-85m", (*HUGE, "model.num_layers=16")))
    assert (plan.strategy, plan.zero_stage, plan.offload_optimizer, plan.num_workers) == ("deepspeed", 2, True, 1)


def test_strategy_deepspeed_without_stage_gets_the_lowest_fitting_stage(away):
    plan = make_plan(platforms.resolve("kaggle", "2xT4"), load_config("cpu-small"), ["parallel.strategy=deepspeed"])
    assert (plan.strategy, plan.zero_stage) == ("deepspeed", 1)
    plan = make_plan(platforms.resolve("kaggle", "2xT4"), load_config("cpu-small"),
                     ["parallel.strategy=deepspeed", "parallel.zero_stage=3"])
    assert plan.zero_stage == 3 and plan.config.parallel.zero_stage == 3


def test_model_that_fits_nowhere_is_refused_with_sizes_and_fixes(away):
    # ~5B parameters: even with the optimizer offloaded, 2-byte weights and grads exceed 8 GB.
    giant = ("model.hidden_size=4096", "model.num_layers=24", "model.num_heads=32", "model.ffn_size=16384")
    with pytest.raises(ConfigError, match=r"does not fit.*\+offload it needs .* GiB per device.*RTX3070.*smaller model"):
        make_plan(platforms.resolve("local", "RTX3070"), load_config("graphmer-se-85m", giant))


def test_explicit_choices_win(away):
    spec = platforms.resolve("kaggle", "2xT4")
    overrides = ["parallel.num_workers=1", "train.micro_batch_size=2", "train.dataloader_workers=3"]
    plan = make_plan(spec, load_config("graphmer-se-85m", overrides[1:]), overrides)
    assert (plan.strategy, plan.num_workers, plan.micro_batch_size, plan.grad_accum_steps) == ("single", 1, 2, 32)
    assert plan.dataloader_workers == 3 and plan.config.train.dataloader_workers == 3


@pytest.mark.parametrize("hardware,overrides,message", [
    ("2xT4", ["train.precision=bf16"], r"bf16 needs compute capability ≥ 8.0 and the T4 \(compute capability 7.5\)"),
    ("P100", ["train.precision=bf16"], r"the P100 \(compute capability 6.0\) lacks it"),
    ("2xT4", ["parallel.strategy=ddp", "parallel.num_workers=4"], "more workers than devices — kaggle has 2 GPUs"),
    ("2xT4", ["train.time_limit=13h"], "longer than kaggle's session limit of 12 h"),
])
def test_impossible_choices_on_kaggle_are_refused_with_the_reason(away, hardware, overrides, message):
    loader = [o for o in overrides if not o.startswith("parallel.")]
    with pytest.raises(ConfigError, match=message):
        make_plan(platforms.resolve("kaggle", hardware), load_config("cpu-small", loader), overrides)


def test_every_problem_is_listed_in_one_error(away):
    overrides = ["train.precision=bf16", "parallel.strategy=ddp", "parallel.num_workers=3"]
    with pytest.raises(ConfigError) as caught:
        make_plan(platforms.resolve("kaggle", "2xT4"), load_config("tiny", overrides[:1]), overrides)
    text = str(caught.value)
    assert "(1) train.precision=bf16" in text and "more workers than devices" in text
    assert "does not divide train.global_batch_size=4" in text and "multi_node on kaggle" in text


def test_zero_with_strategy_single_on_one_cpu_process_is_refused(away):
    with pytest.raises(ConfigError, match="ZeRO stages are DeepSpeed features; use --strategy deepspeed"):
        make_plan(platforms.resolve("local"), load_config("tiny"), ["parallel.strategy=single", "parallel.zero_stage=2"])


def test_fp16_on_a_cpu_is_planned_when_asked_but_auto_never_picks_it(away):
    cpu = platforms.resolve("local")
    on_cpu = ["train.device=cpu"]  # this machine's CPU even where it has a GPU
    assert make_plan(cpu, load_config("tiny", [*on_cpu, "train.precision=fp16"])).precision == "fp16"
    assert make_plan(cpu, load_config("tiny", on_cpu)).precision in ("bf16", "fp32")


def test_multi_node_cluster_refuses_a_local_run_folder(away):
    with pytest.raises(ConfigError, match="local_run_dir on cluster: .*share no disk.*--run-dir s3://"):
        make_plan(a100_cluster(), load_config("tiny"))


def test_cpu_ddp_workers_are_bounded_by_cores(away):
    spec = platforms.resolve("local")
    plan = make_plan(spec, load_config("tiny", ["train.device=cpu"]), ["parallel.strategy=ddp"])
    assert plan.strategy == "ddp" and plan.num_workers == max(w for w in range(1, spec.cpus + 1) if 4 % w == 0)
    with pytest.raises(ConfigError, match=f"more workers than devices — local has {spec.cpus} CPU cores"):
        make_plan(spec, load_config("tiny", ["train.global_batch_size=64", "train.device=cpu"]),
                  ["parallel.strategy=ddp", f"parallel.num_workers={spec.cpus * 2}"])


def test_on_kaggle_the_run_goes_to_working_and_resumes_from_inputs(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "kaggle")
    plan = make_plan(platforms.resolve("auto"), load_config("tiny"))
    assert plan.platform == "kaggle" and not plan.assumed_hardware
    assert plan.run_dir == str(tmp_path / "kaggle/working/runs/tiny") == plan.config.checkpoint.run_dir
    assert plan.resume_roots == [str(tmp_path / "kaggle/input")]
    assert plan.time_limit_s == 12 * 3600 - 1800 and plan.config.train.time_limit == str(12 * 3600 - 1800)


def test_colab_without_drive_warns_that_the_run_folder_is_ephemeral(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "colab", folders=("/content",))
    plan = make_plan(platforms.resolve("auto"), load_config("tiny"))
    assert plan.run_dir == str(tmp_path / "content/runs/tiny") and plan.resume_roots == []
    assert any("not mounted" in note for note in plan.notes)


def test_local_run_folder_and_no_time_limit(away):
    plan = make_plan(platforms.resolve("local"), load_config("cpu-small"))
    assert plan.run_dir == "runs/cpu-small" and plan.time_limit_s is None and plan.config.train.time_limit == ""
    assert plan.checkpoint_interval_steps == load_config("cpu-small").checkpoint.every_steps and plan.dataloader_workers == 0


def test_cluster_with_fewer_sequences_than_gpus_uses_a_divisor_and_says_so(away):
    plan = make_plan(a100_cluster(), load_config("tiny", [CLUSTER_RUN_DIR]), [CLUSTER_RUN_DIR])
    assert plan.num_workers == 4 and plan.micro_batch_size == 1
    assert any("uses 4 of 32 GPUs" in note for note in plan.notes)


@pytest.mark.parametrize("config_name", SHIPPED)
def test_parameter_count_matches_the_real_model(monkeypatch, tmp_path, config_name):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # torch sets it when a model is first built
    config = load_config(config_name)
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = GraphMERForPretraining(config.model, config.train)
    assert param_count(config.model) == sum(p.numel() for p in model.parameters())


def test_explicit_offload_without_enough_ram_is_refused(away):
    overrides = ["parallel.strategy=deepspeed", "parallel.offload_optimizer=true"]
    with pytest.raises(ConfigError, match=r"optimizer states need ~\d+\.\d GiB of RAM and colab offers 9\.5 GiB"):
        make_plan(platforms.resolve("colab"), load_config("graphmer-se-85m", HUGE), overrides)


def test_a_gpus_default_micro_batch_follows_the_datasets_node_counts(away):
    """Sparser sequences than the assumed 25% leaf fill leave room for a larger micro-batch on the same GPU,
    denser ones for a smaller one; the plan says which numbers it used."""
    from launch.data_shape import measured_shape
    from launch.platform_defaults import default_config

    spec = platforms.resolve("local", "RTX3070")
    config = load_config("graphmert-base")   # R=128, K=7: 896 leaf slots; assumed L = 128 + 224 = 352

    def plan_for(**nodes):
        shape = measured_shape(config.model, config.train, nodes, "the training split of /data/x")
        return make_plan(spec, config, default=default_config(spec), shape=shape)

    assumed = make_plan(spec, config, default=default_config(spec))
    sparse = plan_for(mean=172.0, p50=168, p99=260, max=300, leaf_mean=46.0, leaf_p99=130, leaf_max=170, leaf_fill=0.05)
    dense = plan_for(mean=700.0, p50=700, p99=900, max=1000, leaf_mean=570.0, leaf_p99=770, leaf_max=870,
                     leaf_fill=0.64)
    assert dense.micro_batch_size < assumed.micro_batch_size < sparse.micro_batch_size
    shapes = [p.sequence_shape["computed_nodes"] for p in (sparse, assumed, dense)]
    assert shapes == [320, 352, 1024]
    assert any("assumed (no dataset given)" in note and "25% of the 896 leaf slots" in note for note in assumed.notes)
    assert any("L = 320" in note and "300 non-empty nodes" in note and "/data/x" in note for note in sparse.notes)
