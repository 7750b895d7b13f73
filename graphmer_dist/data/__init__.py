"""The leafy-chain dataset: tokenizer, builder, shards on disk and their reader (docs/interfaces.md)."""

from graphmer_dist.data.build import build_dataset, build_or_reuse
from graphmer_dist.data.cache import DATASET_FORMAT_VERSION
from graphmer_dist.data.reader import Dataset, open_dataset
from graphmer_dist.data.tokenizer import VocabFlags, vocab_flags

__all__ = ["DATASET_FORMAT_VERSION", "Dataset", "VocabFlags", "build_dataset", "build_or_reuse", "open_dataset",
           "vocab_flags"]
