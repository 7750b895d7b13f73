"""infra/ files parse and carry the fields their formats require; every install matches the Makefile's."""

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml

# Imported at collection: importing ray sets RAY_CLIENT_MODE, which the leak check would blame on a test.
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
NOTEBOOKS = sorted((INFRA / "notebooks").glob("*.ipynb"))


def test_ray_cluster_config_passes_rays_own_validation():
    config = yaml.safe_load((INFRA / "ray/cluster.yaml").read_text())
    validate_config(prepare_config(config))  # Ray's JSON schema plus its cross-field checks
    node_types = config["available_node_types"]
    assert config["head_node_type"] in node_types
    assert sum(1 for name in node_types if name != config["head_node_type"]) >= 1
    assert all(t["node_config"]["InstanceType"].startswith(("g", "p")) for t in node_types.values()), "GPU nodes"
    assert config["file_mounts"] == {"~/graphmer-dist": "."}
    assert {".venv", "runs", "data"} <= set(config["rsync_exclude"])


def test_ray_cluster_validation_catches_a_wrong_key():
    """The validation above is real: a misspelt node-type key fails it."""
    config = yaml.safe_load((INFRA / "ray/cluster.yaml").read_text())
    config["available_node_types"]["gpu.head"]["min_worker"] = 0
    with pytest.raises(jsonschema.ValidationError, match="min_worker"):
        validate_config(prepare_config(config))


def test_kuberay_rayjob_has_the_fields_that_make_it_resume():
    job = yaml.safe_load((INFRA / "k8s/rayjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]
    entry = shlex.split(spec["entrypoint"])
    assert entry[:3] == ["graphmer-launch", "--platform", "cluster"]
    assert entry[entry.index("--resume") + 1] == "auto"
    assert entry[entry.index("--run-dir") + 1].startswith("s3://"), "a fixed S3 run folder is what re-runs resume from"
    assert spec["shutdownAfterJobFinishes"] is True and spec["backoffLimit"] >= 1
    cluster = spec["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    workers = cluster["workerGroupSpecs"]
    assert workers and all(w["replicas"] >= 1 for w in workers)
    for container in [head] + [w["template"]["spec"]["containers"][0] for w in workers]:
        secrets = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
        assert secrets, f"{container['name']} gets no S3 credentials from a Secret"
    for worker in workers:
        limits = worker["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert int(limits["nvidia.com/gpu"]) >= 1


# Field names of KubeRay's ray.io/v1 RayJobSpec / RayClusterSpec / WorkerGroupSpec (ray-operator/apis/ray/v1).
# The operator drops unknown fields silently, so a misspelt `shutdownAfterJobFinish` would just be ignored.
RAYJOB_SPEC_FIELDS = {
    "activeDeadlineSeconds", "backoffLimit", "rayClusterSpec", "submitterPodTemplate", "metadata",
    "clusterSelector", "submitterConfig", "managedBy", "deletionStrategy", "entrypoint", "runtimeEnvYAML",
    "jobId", "submissionMode", "entrypointResources", "entrypointNumCpus", "entrypointNumGpus",
    "ttlSecondsAfterFinished", "shutdownAfterJobFinishes", "suspend", "schedule"}
RAYCLUSTER_SPEC_FIELDS = {"rayVersion", "headGroupSpec", "workerGroupSpecs", "enableInTreeAutoscaling",
                          "autoscalerOptions", "headServiceAnnotations", "suspend", "managedBy",
                          "gcsFaultToleranceOptions", "authOptions"}
WORKER_GROUP_FIELDS = {"groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template",
                       "scaleStrategy", "suspend", "idleTimeoutSeconds", "numOfHosts"}


def test_kuberay_rayjob_uses_only_known_field_names():
    spec = yaml.safe_load((INFRA / "k8s/rayjob.yaml").read_text())["spec"]
    assert set(spec) <= RAYJOB_SPEC_FIELDS, set(spec) - RAYJOB_SPEC_FIELDS
    cluster = spec["rayClusterSpec"]
    assert set(cluster) <= RAYCLUSTER_SPEC_FIELDS, set(cluster) - RAYCLUSTER_SPEC_FIELDS
    for group in cluster["workerGroupSpecs"]:
        assert set(group) <= WORKER_GROUP_FIELDS, set(group) - WORKER_GROUP_FIELDS
    assert all(isinstance(v, str) for v in cluster["headGroupSpec"]["rayStartParams"].values()), \
        "rayStartParams values must be strings"


@dataclass(frozen=True)
class PipInstall:
    env: tuple[str, ...]
    flags: frozenset[str]
    targets: tuple[str, ...]
    """Requirements / paths, with a project's extras split off into `extras`."""
    extras: frozenset[str]


def pip_installs(text: str) -> list[PipInstall]:
    """Every `pip install` in a Makefile/Dockerfile/shell text, however pip is spelled."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r"\$\(PY\) -m pip|\S*python3? -m pip|\S*/pip\b", "pip", text.replace("\\\n", " "))
    found = []
    for match in re.finditer(r"((?:[A-Z_]+=\S+ )*)pip install ([^\n;&|]*)", text):
        words = shlex.split(match.group(2))
        flags = frozenset(w for w in words if w.startswith("-") and w != "-e")
        targets = [w for w in words if not w.startswith("-")]
        extras = set()
        for i, target in enumerate(targets):
            if m := re.fullmatch(r"(.*)\[(.+)\]", target):
                targets[i], extras = m.group(1), set(m.group(2).split(","))
        found.append(PipInstall(tuple(match.group(1).split()), flags | ({"-e"} if "-e" in words else set()),
                                tuple(targets), frozenset(extras)))
    return found


def package_install(installs: list[PipInstall]) -> PipInstall:
    matches = [i for i in installs if i.targets and i.targets[-1].endswith((".", "graphmer-dist"))]
    assert len(matches) == 1, installs
    return matches[0]


MAKEFILE = pip_installs((ROOT / "Makefile").read_text())
INSTALL_TEXTS = {
    "Dockerfile": (INFRA / "docker/Dockerfile").read_text(),
    "cluster.yaml": "\n".join(yaml.safe_load((INFRA / "ray/cluster.yaml").read_text())["setup_commands"]),
    **{nb.name: "\n".join(line.lstrip("!") for cell in nbformat.read(nb, as_version=4).cells
                          for line in cell.source.splitlines() if line.startswith("!")) for nb in NOTEBOOKS},
}


@pytest.mark.parametrize("name", sorted(INSTALL_TEXTS))
def test_package_install_matches_the_makefile(name):
    ours = pip_installs(INSTALL_TEXTS[name])
    reference, mine = package_install(MAKEFILE), package_install(ours)
    assert mine.env == reference.env == ("DS_BUILD_OPS=0",)
    assert mine.flags == reference.flags
    assert "deepspeed" in mine.extras and "deepspeed" in reference.extras
    upgrade = [i for i in ours if "--upgrade" in i.flags and set(i.targets) == {"pip", "setuptools", "wheel"}]
    assert upgrade and ours.index(upgrade[0]) < ours.index(mine), "pip/setuptools upgraded first, as in the Makefile"


@pytest.mark.parametrize("name", ["Dockerfile", "cluster.yaml"])
def test_torch_goes_in_before_the_package(name):
    ours = pip_installs(INSTALL_TEXTS[name])
    torch = [i for i in ours if any(t.startswith(("torch", '"$TORCH', "$TORCH")) for t in i.targets)]
    assert torch and ours.index(torch[0]) < ours.index(package_install(ours))


DOCKER_INSTRUCTIONS = {"FROM", "ARG", "ENV", "RUN", "COPY", "WORKDIR", "CMD", "ENTRYPOINT", "LABEL", "USER"}


def test_dockerfile_lines_are_instructions():
    """The build is not run here; at least every logical line must be a Dockerfile instruction."""
    text = (INFRA / "docker/Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    words = [line.split()[0] for line in lines]
    assert set(words) <= DOCKER_INSTRUCTIONS, set(words) - DOCKER_INSTRUCTIONS
    assert words[0] in ("ARG", "FROM") and "FROM" in words


def test_dockerfile_cpu_variant_pins_the_makefiles_cpu_torch():
    dockerfile = (INFRA / "docker/Dockerfile").read_text()
    makefile_cpu = re.search(r"^TORCH_CPU \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert re.search(r"^ARG TORCH_CPU=(\S+)$", dockerfile, re.M).group(1) == makefile_cpu
    assert re.search(r"^ARG VARIANT=gpu$", dockerfile, re.M)
    assert "FROM base-${VARIANT}" in dockerfile and "AS base-cpu" in dockerfile and "AS base-gpu" in dockerfile
    copied = set(re.findall(r"^COPY (\S+)", dockerfile, re.M))
    assert {"graphmer_dist", "platforms", "launch", "configs"} <= copied, "every package the install needs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_nbformat_4_and_its_code_parses(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs for cell in code), "committed without outputs"
    for cell in code:
        python = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("!", "%")))
        ast.parse(python)


def test_notebooks_keep_runs_on_persistent_storage():
    colab = nbformat.read(INFRA / "notebooks/colab.ipynb", as_version=4)
    modelscope = nbformat.read(INFRA / "notebooks/modelscope.ipynb", as_version=4)
    assert 'drive.mount("/content/drive")' in "".join(c.source for c in colab.cells)
    assert "/mnt/workspace" in "".join(c.source for c in modelscope.cells if c.cell_type == "code")
