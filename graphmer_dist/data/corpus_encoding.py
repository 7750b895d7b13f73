"""Train the corpus tokenizer and encode every file, in this process or beside the KG's linking.

Tokenizing needs only the files' texts, which exist once the parse pool is done; linking the KG then
runs for tens of seconds on one core in the parent. `start_encoding` starts the tokenizer in a helper
process at that moment, so both cores work (`data/build.py`), or, for small corpora and `data.workers:
1`, does the same work here (`encode_corpus`). Both give the same tokenizer and the same arrays.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from graphmer_dist.data.tokenizer import train_tokenizer
from graphmer_dist.errors import DataError

ENCODE_BATCH_FILES = 256  # bounds the memory of Encoding objects (~100 B per token) while keeping Rust busy
HELPER_MIN_CHARS = 2_000_000
"""Below ~1 s of tokenizing, starting a Python helper (~0.5 s) costs more than it overlaps."""


@dataclass
class EncodedCorpus:
    tokenizer: Tokenizer
    ids: list[np.ndarray]
    """Per file, in the order given: (T,) int32 token ids."""
    offsets: list[np.ndarray]
    """Per file: (T, 2) int64 char offsets of each token in the file's text."""
    tokenizer_seconds: float
    encode_seconds: float


def encode_corpus(texts: list[str], vocab_size: int, min_frequency: int) -> EncodedCorpus:
    started = time.perf_counter()
    tokenizer = train_tokenizer(iter(texts), vocab_size, min_frequency, len(texts))
    trained = time.perf_counter()
    ids: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    for begin in range(0, len(texts), ENCODE_BATCH_FILES):
        for encoding in tokenizer.encode_batch(texts[begin : begin + ENCODE_BATCH_FILES], add_special_tokens=False):
            ids.append(np.asarray(encoding.ids, dtype=np.int32))
            offsets.append(np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2))
    return EncodedCorpus(tokenizer, ids, offsets, trained - started, time.perf_counter() - trained)


def start_encoding(texts: list[str], vocab_size: int, min_frequency: int, workers: int) -> "_Done | _Pending":
    """`.result()` of the returned object is the `EncodedCorpus`: computed by then in a helper process
    when there are cores to spare and enough text to be worth it, else computed here and now."""
    if workers > 1 and sum(map(len, texts)) >= HELPER_MIN_CHARS:
        return encode_beside(texts, vocab_size, min_frequency)
    return _Done(encode_corpus(texts, vocab_size, min_frequency))


@dataclass
class _Done:
    encoded: EncodedCorpus

    def result(self) -> EncodedCorpus:
        return self.encoded


class _Pending:
    """The helper process's result, turned back into an `EncodedCorpus` when asked for."""

    def __init__(self, helper: subprocess.Popen):
        self._helper = helper

    def result(self) -> EncodedCorpus:
        try:
            tokenizer_json, ids, offsets, lengths, seconds = pickle.load(self._helper.stdout)
        except Exception as exc:  # killed (out of memory) or crashed: its traceback went to stderr
            self._helper.kill()
            raise DataError(
                f"tokenizing the corpus in a helper process failed ({type(exc).__name__}; exit status "
                f"{self._helper.wait()}; its error, if any, is printed above). If the machine ran out of "
                "memory, build with data.workers=1 (tokenizes in this process, one batch of files at a "
                "time) or a smaller corpus.") from exc
        finally:
            self._helper.stdout.close()
        self._helper.wait()
        cuts = np.cumsum(lengths)[:-1]
        return EncodedCorpus(Tokenizer.from_str(tokenizer_json), np.split(ids, cuts),
                             np.split(offsets, cuts), *seconds)


def encode_beside(texts: list[str], vocab_size: int, min_frequency: int) -> _Pending:
    """Start `encode_corpus` in a helper process; `.result()` waits for it. A fresh interpreter, not a
    multiprocessing child: a fork would copy the caller's threads' locks mid-use (Ray's, a console
    pump's), and spawn would re-run a caller's script that lacks a `__main__` guard."""
    # This package's folder first on the helper's path: the caller may have found it through a sys.path
    # entry of its own (a script in a checkout), which a fresh interpreter would not have.
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    helper = subprocess.Popen([sys.executable, "-c", f"from {__name__} import _serve; _serve()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    with helper.stdin:  # the helper reads all of it before it writes anything: no deadlock
        pickle.dump((texts, vocab_size, min_frequency), helper.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    return _Pending(helper)


def _serve() -> None:
    """The helper's side: arguments in on stdin, three arrays out on stdout (one pickle of contiguous
    memory crosses the pipe fast, thousands of small arrays would not)."""
    texts, vocab_size, min_frequency = pickle.load(sys.stdin.buffer)
    encoded = encode_corpus(texts, vocab_size, min_frequency)
    lengths = np.array([len(a) for a in encoded.ids], dtype=np.int64)
    ids = np.concatenate(encoded.ids) if encoded.ids else np.zeros(0, np.int32)
    offsets = np.concatenate(encoded.offsets) if encoded.offsets else np.zeros((0, 2), np.int64)
    pickle.dump((encoded.tokenizer.to_str(), ids, offsets, lengths,
                 (encoded.tokenizer_seconds, encoded.encode_seconds)),
                sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
