"""What the plan knows about the training sequences before the run: how many of their nodes hold a token.

The unpadded model's memory follows the data (launch/memory_estimate.py): a micro-batch is as long as
its longest sequence (model/layout.py), and the heads score only the masked positions. The numbers come
from the training split's `nodes_per_sequence` in the manifest of the dataset the run will use
(graphmer_dist/data/node_stats.py) — `data.dataset_dir`, or the cache folder the corpus's content hash
names — when it is already built; otherwise (a dry run on a fresh machine, a dataset built before the
manifest had them) from an assumption, and the plan's notes say which.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from graphmer_dist.config import Config, ModelConfig, TrainConfig

ASSUMED_LEAF_FILL = 0.25
"""Without measured numbers, sequences are taken to fill this share of their leaf slots. Measured: the
stdlib cpu-small dataset fills 5.2% (train; 1.5–2.7% in the other splits); a dense-injection corpus fills
more. A quarter is a safe upper bound for both."""
ASSUMED_SCORED_FRACTION = 0.25
"""Without measured numbers, the heads score this share of the N positions per sequence (MLM and SBO rows
each): 15% of the roots plus masked leaves, rounded well up."""


@dataclass(frozen=True, slots=True)
class SequenceShape:
    """Per training sequence: non-empty nodes, and the rows the MLM and SBO heads score."""

    longest: int
    """Non-empty nodes of the longest sequence: a micro-batch holding it computes L = this (bucketed)."""
    mean: float
    p99: float
    leaf_fill: float
    mlm_rows_mean: float
    mlm_rows_p99: float
    sbo_rows: float
    triples: float
    """Injected triples per sequence (mean): H-GAT gathers a d×d relation matrix for each."""
    measured: bool
    source: str
    """Where the numbers come from, said in the plan's notes."""

    def mlm_rows(self, micro_batch: int) -> float:
        """Scored MLM rows of a micro-batch: B·mean plus a p99 margin that shrinks like √B (the rows of
        B sequences add up; their spread grows as √B, not B)."""
        return micro_batch * self.mlm_rows_mean + math.sqrt(micro_batch) * (self.mlm_rows_p99 - self.mlm_rows_mean)

    def to_dict(self) -> dict:
        return asdict(self)


def assumed_shape(model: ModelConfig, why: str = "no dataset given") -> SequenceShape:
    """Every root plus ASSUMED_LEAF_FILL of the leaf slots; ASSUMED_SCORED_FRACTION of N scored rows."""
    R, K, N = model.num_roots, model.leaves_per_root, model.seq_len
    nodes = R + ASSUMED_LEAF_FILL * R * K
    rows = ASSUMED_SCORED_FRACTION * N
    triples = ASSUMED_LEAF_FILL * R          # as many full leaf blocks
    source = (f"assumed ({why}): every root plus {ASSUMED_LEAF_FILL:.0%} of the {R * K} leaf slots = "
              f"{int(nodes)} non-empty nodes, {int(rows)} scored rows per head")
    return SequenceShape(int(nodes), nodes, nodes, ASSUMED_LEAF_FILL, rows, rows, rows, triples, False, source)


def measured_shape(model: ModelConfig, train: TrainConfig, nodes: dict, source: str,
                   triples: float | None = None) -> SequenceShape:
    """From a manifest's `nodes_per_sequence` entry (and `triples_per_sequence`; None = one triple per
    full leaf block). Masked roots: mask_fraction of R, plus one for the rounding (masking.py); masked
    leaves: leaf_mask_prob of the filled leaf slots (whole tails)."""
    roots = train.mask_fraction * model.num_roots + 1
    leaves_mean, leaves_p99 = train.leaf_mask_prob * nodes["leaf_mean"], train.leaf_mask_prob * nodes["leaf_p99"]
    if triples is None:
        triples = nodes["leaf_mean"] / model.leaves_per_root
    return SequenceShape(int(nodes["max"]), float(nodes["mean"]), float(nodes["p99"]), float(nodes["leaf_fill"]),
                         roots + leaves_mean, roots + leaves_p99, roots, float(triples), True, source)


def find_shape(config: Config) -> SequenceShape:
    """The measured shape of the training split of the dataset this config will train on, if it is built."""
    folder, why = _dataset_folder(config)
    if folder is None:
        return assumed_shape(config.model, why)
    from graphmer_dist.data.cache import read_manifest

    manifest = read_manifest(folder)
    if manifest is None:
        return assumed_shape(config.model, f"the dataset {folder} is not built yet")
    nodes = manifest.get("nodes_per_sequence", {}).get("train")
    if not nodes:
        return assumed_shape(config.model, f"the manifest of {folder} predates node counts; rebuild it "
                                           "(graphmer-launch data) to size memory from the data")
    triples = manifest.get("triples_per_sequence", {}).get("train")
    return measured_shape(config.model, config.train, nodes, f"the training split of {folder}", triples)


def _dataset_folder(config: Config) -> tuple[Path | None, str]:
    """(folder the run will read, or None, and why not). Finding the cached folder hashes the corpus's
    file list (sizes and times, no contents): ~0.2 s for the stdlib."""
    if config.data.dataset_dir:
        return Path(config.data.dataset_dir).expanduser(), ""
    from graphmer_dist import kg
    from graphmer_dist.data.cache import dataset_key
    from graphmer_dist.errors import DataError

    paths = [str(Path(p).expanduser().absolute()) for p in config.data.corpus]
    try:
        sources, skipped = kg.discover_sources(paths, config.data)
    except DataError as error:  # the build reports it; the plan only needs to say what it assumed
        return None, f"the corpus cannot be read yet: {error}"
    key = dataset_key(config, paths or kg.default_corpus(), [s.path for s in sources] + [s.path for s in skipped])
    folder = Path(config.data.cache_dir).expanduser() / key
    return folder, ""
