"""Platform adapters under simulated platforms (env vars + folder roots in tmp_path), unpatched."""

from __future__ import annotations

import dataclasses

import pytest
from platform_sim import SIMULATIONS, simulate

import platforms
from graphmer_dist.errors import ConfigError
from platforms.cluster import describe_from_resources
from platforms.hardware import GIB, gpu_model, parse_hardware
from platforms.probe import cpu_has_bf16, probe_cpus, probe_gpus, probe_ram_bytes
from platforms.spec import PlatformSpec

ADAPTERS = sorted(platforms.REGISTRY)


def test_registry_holds_exactly_the_five_adapters():
    assert ADAPTERS == ["cluster", "colab", "kaggle", "local", "modelscope"]
    assert set(platforms.DETECTION_ORDER) | {platforms.FALLBACK} == set(ADAPTERS)


@pytest.mark.parametrize("name", ADAPTERS)
def test_each_simulated_platform_is_detected_as_itself(monkeypatch, tmp_path, name):
    simulate(monkeypatch, tmp_path, name)
    assert platforms.detect() == name
    others = [n for n in platforms.DETECTION_ORDER if n != name]
    assert not any(platforms.REGISTRY[n].detect() for n in others)


def test_modelscope_is_detected_from_its_workspace_folder_alone(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "modelscope", env={})
    assert platforms.detect() == "modelscope"


def test_cluster_address_takes_precedence_over_a_notebook(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "kaggle")
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert platforms.detect() == "cluster"


@pytest.mark.parametrize("name", [n for n in ADAPTERS if n != "cluster"])
def test_conformance_describe_returns_a_consistent_spec(monkeypatch, tmp_path, name):
    simulate(monkeypatch, tmp_path, name)
    spec = platforms.resolve(name)
    assert isinstance(spec, PlatformSpec) and spec.name == name
    assert spec.accelerator in ("cuda", "cpu") and spec.num_devices >= 1 and spec.cpus >= 1
    assert spec.device_memory_bytes > 0 and spec.ram_bytes > 0
    assert not spec.assumed_hardware, "on the platform itself the hardware is probed"
    # Probed here, on a CPU: bf16 is the CPU's own (avx512_bf16 / AMX); on a GPU it would be CC ≥ 8.0.
    assert spec.bf16 == (spec.compute_capability >= (8, 0) if spec.compute_capability else cpu_has_bf16())
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    assert all(isinstance(reason, str) and reason for reason in spec.unsupported.values())


@pytest.mark.parametrize("name", ADAPTERS)
def test_conformance_planning_away_marks_hardware_assumed(monkeypatch, tmp_path, name):
    simulate(monkeypatch, tmp_path, "local")
    hardware = {"cluster": "2x4xA100", "local": "RTX3070"}.get(name)
    spec = platforms.resolve(name, hardware)
    assert spec.assumed_hardware and spec.accelerator == "cuda"
    assert spec.to_dict()["multi_node"] == spec.multi_node


def test_kaggle_on_the_platform_probes_this_machine_and_uses_its_roots(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "kaggle")
    spec = platforms.resolve("auto")
    assert spec.name == "kaggle" and spec.accelerator == "cpu"  # a Kaggle CPU session, like this machine
    assert spec.cpus == probe_cpus() and spec.ram_bytes == probe_ram_bytes()
    assert spec.persistent_root == str(tmp_path / "kaggle/working")
    assert spec.inputs_root == str(tmp_path / "kaggle/input")
    assert spec.time_limit_s == 12 * 3600


@pytest.mark.parametrize("hardware,count,name,bf16", [("2xT4", 2, "T4", False), ("P100", 1, "P100", False)])
def test_kaggle_standard_hardware_away_from_kaggle(monkeypatch, tmp_path, hardware, count, name, bf16):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("kaggle", hardware)
    assert (spec.num_devices, spec.device_name, spec.bf16, spec.fp16) == (count, name, bf16, True)
    assert spec.assumed_hardware and spec.cpus == 4 and spec.ram_bytes == 29 * GIB
    assert platforms.resolve("kaggle").device_name == "T4", "2xT4 is Kaggle's standard hardware"


def test_kaggle_tpu_and_unknown_hardware_are_refused_with_the_reason(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")
    with pytest.raises(ConfigError, match="not torch_xla"):
        platforms.resolve("kaggle", "TPU")
    with pytest.raises(ConfigError, match="not offered on kaggle; choose one of 2xT4, P100, CPU"):
        platforms.resolve("kaggle", "A100")


def test_colab_uses_drive_only_when_mounted(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "colab", folders=("/content",))
    spec = platforms.resolve("colab")
    assert spec.persistent_root is None and spec.scratch_root == str(tmp_path / "content")
    assert "not mounted" in spec.notes[0] and spec.preemptible
    (tmp_path / "content/drive/MyDrive").mkdir(parents=True)
    spec = platforms.resolve("colab")
    assert spec.persistent_root == str(tmp_path / "content/drive/MyDrive") and not spec.notes


def test_modelscope_standard_hardware_is_an_a10_with_bf16(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("modelscope")
    assert (spec.device_name, spec.compute_capability, spec.bf16) == ("A10", (8, 6), True)
    assert spec.persistent_root.endswith("/mnt/workspace") and spec.assumed_hardware


def test_local_reads_this_machine(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("local")
    assert spec.cpus == probe_cpus()
    gpus = probe_gpus()
    if gpus:  # the GPUs torch sees, with the table's/compute capability's native precisions
        assert (spec.accelerator, spec.num_devices, spec.device_name) == ("cuda", len(gpus), gpus[0].name)
        assert spec.device_memory_bytes == gpus[0].memory_bytes and spec.bf16 == (gpus[0].compute_capability >= (8, 0))
        return
    assert spec.accelerator == "cpu" and spec.num_devices == 1 and spec.device_memory_bytes == spec.ram_bytes
    cpu_flags = open("/proc/cpuinfo").read()
    assert spec.bf16 == ("avx512_bf16" in cpu_flags or "amx_bf16" in cpu_flags)
    assert spec.fp16 == ("avx512_fp16" in cpu_flags or "amx_fp16" in cpu_flags)


def test_rtx3070_preset_has_bf16_at_compute_capability_8_6(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("local", "RTX3070")
    assert (spec.device_memory_bytes, spec.compute_capability, spec.bf16) == (8 * GIB, (8, 6), True)


def test_cluster_spec_from_ray_resources_of_4_nodes_with_8_a100():
    resources = {"CPU": 4 * 96.0, "GPU": 32.0, "memory": 4 * 1000 * GIB, "accelerator_type:A100": 4.0,
                 "node:10.0.0.1": 1.0}
    spec = describe_from_resources(resources, num_nodes=4, address="ray://head:10001")
    assert (spec.num_devices, spec.devices_per_node, spec.num_nodes, spec.cpus) == (32, 8, 4, 96)
    assert spec.device_name == "A100" and spec.bf16 and spec.multi_node and spec.shared_storage_required
    assert spec.address == "ray://head:10001" and not spec.assumed_hardware


def test_cluster_gpus_of_unknown_type_ask_for_hardware():
    with pytest.raises(ConfigError, match="pass --hardware NODESxGPUSxMODEL"):
        describe_from_resources({"CPU": 8.0, "GPU": 2.0, "memory": GIB}, 1, "auto")


def test_cpu_only_single_node_cluster_needs_no_shared_storage():
    spec = describe_from_resources({"CPU": 16.0, "memory": 64.0 * GIB}, 1, "auto")
    assert spec.accelerator == "cpu" and not spec.shared_storage_required and spec.cpus == 16


@pytest.mark.parametrize("text,expected", [
    ("2xT4", (1, 2, "T4")), ("P100", (1, 1, "P100")), ("4x8xA100", (4, 8, "A100")),
    ("1xa100-80gb", (1, 1, "A100-80GB")),
])
def test_hardware_strings(text, expected):
    nodes, per_node, model = parse_hardware(text)
    assert (nodes, per_node, model.name) == expected


@pytest.mark.parametrize("probed,name", [("Tesla T4", "T4"), ("NVIDIA GeForce RTX 3070", "RTX3070"),
                                         ("NVIDIA A100-SXM4-80GB", "A100-80GB"), ("NVIDIA A10", "A10"),
                                         ("Tesla P100-PCIE-16GB", "P100")])
def test_probed_gpu_names_map_to_the_table(probed, name):
    assert gpu_model(probed).name == name


def test_unknown_platform_name_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown platform 'azure'; choose auto or one of cluster, colab"):
        platforms.resolve("azure")


def test_simulations_cover_every_adapter():
    assert set(SIMULATIONS) == set(ADAPTERS)


@pytest.mark.slow
def test_cluster_adapter_reads_a_real_local_ray(monkeypatch, tmp_path, ray_cluster):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("auto", address="auto")  # an --address alone means a cluster
    resources = ray_cluster.cluster_resources()
    accelerator = "cuda" if resources.get("GPU") else "cpu"
    assert spec.name == "cluster" and spec.accelerator == accelerator and spec.num_nodes == 1
    assert spec.cpus == int(resources["CPU"]) and not spec.shared_storage_required
