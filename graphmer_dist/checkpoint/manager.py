"""Save, find, verify, load and prune `step-NNNNNNN/` checkpoints under `<run_dir>/checkpoints/`.

Publishing is all-or-nothing. Local: the files and then the manifest are written into
`checkpoints/.tmp-step-NNNNNNN-<id>/`, which is renamed to `step-NNNNNNN/` (one `os.rename`). S3 has no
rename: the files are uploaded, then `manifest.json` LAST — a step folder without a manifest is an
interrupted save and is ignored. Only rank 0 saves (other ranks pass their files to it), or, under Ray,
each rank publishes its own part (`publish_part`) and rank 0's manifest waits for every other part;
a save is synchronous.

Validity: `latest_valid()` and `load()` verify every file's size and sha256 against the manifest, and
skip an invalid checkpoint with a warning naming it. Retention (`keep` ≥ 2) deletes checkpoints older
than the `keep` newest ones that pass the cheap check (manifest readable, sizes match), so the newest
valid checkpoint is never deleted. S3 checkpoints are verified by downloading them into a local cache
folder, which `load()` then returns (`cache_dir`, or a temporary folder removed when the process exits).
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphmer_dist.checkpoint import manifest as mf
from graphmer_dist.errors import CheckpointError
from graphmer_dist.storage import Storage, join, open_storage
from graphmer_dist.storage.local import TEMP_PREFIX

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """One checkpoint folder: `key` under `storage`, named `uri` in messages."""

    storage: Storage = field(repr=False)
    key: str
    step: int

    @property
    def uri(self) -> str:
        return self.storage.uri(self.key)


class CheckpointManager:
    def __init__(self, storage: Storage, keep: int = 3, prefix: str = "checkpoints",
                 cache_dir: Path | None = None) -> None:
        assert keep >= 2, "keep at least 2 checkpoints: the newest may be half-written when a run dies"
        self.storage, self.keep, self.prefix = storage, keep, prefix
        self._cache_dir = cache_dir
        self._verified: dict[str, Path] = {}  # uri → local folder whose checksums passed

    # -- writing ---------------------------------------------------------------------------------------
    def save(self, step: int, files: dict[str, bytes | Path], meta: dict[str, Any]) -> CheckpointRef:
        """Publish `files` as checkpoint `step` (hashed here, manifest last), then apply retention."""
        entries = {name: _entry(value) for name, value in files.items()}
        return self._publish(step, files, mf.build_manifest(step, meta, entries), move=False)

    def publish(self, folder: Path) -> CheckpointRef:
        """Publish a staged local folder whose manifest.json its writers completed: the files are not
        hashed again, and are handed over (renamed into a local run folder on the same filesystem)."""
        manifest = json.loads((folder / mf.MANIFEST).read_text())
        files = {name: folder / name for name in manifest["files"]}
        return self._publish(int(manifest["step"]), files, manifest, move=True)

    def publish_part(self, folder: Path, wait_s: float = 900.0, poll_s: float = 0.2) -> CheckpointRef:
        """Publish one rank's staged part of a checkpoint whose ranks publish separately (under Ray each
        worker uploads its own folder, possibly from another node), into `checkpoints/<folder name>/`.

        The part holding manifest.json (rank 0's) writes it last, and only once every file it lists is in
        storage with its size: a manifest still means a whole checkpoint, as on the single-process path.
        The others' uploads each ride out an outage per the retry policy, so rank 0 waits up to `wait_s`
        (a rank that dies ends the whole worker group first). No retention here: Ray keeps its own."""
        final = join(self.prefix, folder.name)
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        manifest = json.loads((folder / mf.MANIFEST).read_text()) if mf.MANIFEST in names else None
        if manifest is not None and self.storage.exists(join(final, mf.MANIFEST)):
            self.storage.delete_prefix(join(final, mf.MANIFEST))  # an older save of this step: no longer whole
        for name in names:
            if name != mf.MANIFEST:
                self.storage.write_file(join(final, name), folder / name)
        if manifest is None:
            return CheckpointRef(self.storage, final, int(mf.STEP_DIR.match(folder.name).group(1)))
        deadline = time.monotonic() + wait_s
        while (missing := mf.shallow_problem(manifest, _sizes_in(CheckpointRef(self.storage, final, 0),
                                                                  self.storage.list(final)))):
            if time.monotonic() > deadline:
                raise CheckpointError(f"checkpoint {self.storage.uri(final)} was not published: after {wait_s:.0f} s "
                                      f"the other workers' files are still not all there ({missing}). Rerun with "
                                      "--resume auto: the run continues from its newest whole checkpoint.")
            time.sleep(poll_s)
        self.storage.write_file(join(final, mf.MANIFEST), folder / mf.MANIFEST)
        self._verified.pop(self.storage.uri(final), None)
        return CheckpointRef(self.storage, final, int(manifest["step"]))

    def _publish(self, step: int, files: dict[str, bytes | Path], manifest: dict, move: bool) -> CheckpointRef:
        final = join(self.prefix, mf.step_dirname(step))
        if self.storage.atomic_rename:
            self._save_by_rename(step, final, files, manifest, move)
        else:
            self._save_marker_last(final, files, manifest, move)
        self._verified.pop(self.storage.uri(final), None)
        self.prune()
        return CheckpointRef(self.storage, final, step)

    def _write_all(self, folder: str, files: dict[str, bytes | Path], manifest: dict, move: bool) -> None:
        for name, value in files.items():
            if isinstance(value, (bytes, bytearray, memoryview)):
                self.storage.write_bytes(join(folder, name), bytes(value))
            else:
                self.storage.write_file(join(folder, name), Path(value), move=move)
        self.storage.write_bytes(join(folder, mf.MANIFEST), json.dumps(manifest, indent=2).encode())

    def _save_by_rename(self, step: int, final: str, files: dict[str, bytes | Path], manifest: dict,
                        move: bool) -> None:
        tmp = join(self.prefix, f"{TEMP_PREFIX}{mf.step_dirname(step)}-{uuid.uuid4().hex[:8]}")
        self._write_all(tmp, files, manifest, move)
        if self.storage.local_path(final).exists():  # re-saving a step (a resumed run): swap, then drop old
            old = join(self.prefix, f"{TEMP_PREFIX}old-{uuid.uuid4().hex[:8]}")
            self.storage.rename_prefix(final, old)
            self.storage.rename_prefix(tmp, final)
            self.storage.delete_prefix(old)
        else:
            self.storage.rename_prefix(tmp, final)

    def _save_marker_last(self, final: str, files: dict[str, bytes | Path], manifest: dict, move: bool) -> None:
        # An older save of the same step: drop its marker first so it is never mistaken for the new one.
        if self.storage.exists(join(final, mf.MANIFEST)):
            self.storage.delete_prefix(final)
        self._write_all(final, files, manifest, move)

    # -- finding and verifying -------------------------------------------------------------------------
    def all_refs(self) -> list[CheckpointRef]:
        """Every `step-*` folder, valid or not, oldest first."""
        steps = set()
        for key in self.storage.list(self.prefix):
            name = key[len(self.prefix.strip("/")) + 1:].split("/")[0] if self.prefix else key.split("/")[0]
            if match := mf.STEP_DIR.match(name):
                steps.add((int(match.group(1)), name))
        return [CheckpointRef(self.storage, join(self.prefix, name), step) for step, name in sorted(steps)]

    def latest_valid(self) -> CheckpointRef | None:
        """The newest checkpoint whose manifest exists and whose files match it; skipped ones are logged."""
        for ref in reversed(self.all_refs()):
            if self.problem(ref) == "":
                return ref
        return None

    def list_valid(self) -> list[CheckpointRef]:
        """Every fully verified checkpoint, oldest first (reads every file: use `latest_valid` to resume)."""
        return [ref for ref in self.all_refs() if self.problem(ref) == ""]

    def problem(self, ref: CheckpointRef, warn: bool = True) -> str:
        """'' when `ref` is complete and every checksum matches, else why it is not (logged as a warning)."""
        if ref.uri in self._verified:
            return ""
        reason = verify(ref, self._local_copy_dir(ref))
        if reason:
            if warn:
                log.warning("skipping checkpoint %s: %s", ref.uri, reason)
            return reason
        self._verified[ref.uri] = self._local_folder(ref)
        return ""

    def load(self, ref: CheckpointRef | int) -> Path:
        """A local folder holding checkpoint `ref`, verified; CheckpointError when it is not valid."""
        if isinstance(ref, int):
            ref = CheckpointRef(self.storage, join(self.prefix, mf.step_dirname(ref)), ref)
        reason = self.problem(ref, warn=False)
        if reason:
            raise CheckpointError(f"checkpoint {ref.uri} cannot be loaded: {reason}. Resume from another "
                                  "checkpoint (--resume auto picks the newest valid one) or start fresh "
                                  "with --resume never.")
        return self._verified[ref.uri]

    def _local_folder(self, ref: CheckpointRef) -> Path:
        local = ref.storage.local_path(ref.key)
        return local if local is not None else self._local_copy_dir(ref)

    def _local_copy_dir(self, ref: CheckpointRef) -> Path | None:
        if ref.storage.local_path(ref.key) is not None:
            return None
        if self._cache_dir is None:  # a 1 GB download per resume must not pile up in /tmp
            self._cache_dir = Path(tempfile.mkdtemp(prefix="graphmer-checkpoints-"))
            atexit.register(shutil.rmtree, self._cache_dir, ignore_errors=True)
        return self._cache_dir / Path(ref.key).name

    # -- retention -------------------------------------------------------------------------------------
    def prune(self) -> list[CheckpointRef]:
        """Delete checkpoints older than the `keep` newest complete ones, and torn folders older than the
        newest complete one (saves are synchronous, so those can never finish); returns what was deleted."""
        refs = self.all_refs()
        sizes = self.storage.list(self.prefix)
        complete = [r.step for r in refs if _shallow_ok(r, sizes)]
        if not complete:
            return []
        oldest_kept = complete[-self.keep] if len(complete) >= self.keep else complete[0]
        doomed = [r for r in refs if r.step < oldest_kept or (r.step < complete[-1] and r.step not in complete)]
        for ref in doomed:
            self.storage.delete_prefix(ref.key)
            self._verified.pop(ref.uri, None)
        self._remove_stale_temp_dirs()
        return doomed

    def _remove_stale_temp_dirs(self) -> None:
        """Local only: `.tmp-*` folders left by a save that died (saves are synchronous, so none is live)."""
        folder = self.storage.local_path(self.prefix)
        if folder is not None and folder.is_dir():
            for path in folder.iterdir():
                if path.name.startswith(TEMP_PREFIX) and path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)


def verify(ref: CheckpointRef, copy_to: Path | None) -> str:
    """Full check of one checkpoint: manifest, sizes and sha256s. Remote ones are first copied to `copy_to`."""
    manifest, reason = mf.read_manifest(ref.storage, ref.key)
    if manifest is None:
        return reason
    reason = mf.shallow_problem(manifest, _sizes_in(ref, ref.storage.list(ref.key)))
    if reason:
        return reason
    folder = ref.storage.local_path(ref.key)
    if folder is None:
        shutil.rmtree(copy_to, ignore_errors=True)
        ref.storage.download_dir(ref.key, copy_to)
        folder = copy_to
    return mf.checksum_problem(manifest, folder)


def verify_folder(folder: Path) -> str:
    """'' when the local checkpoint `folder` has a manifest and every file matches it, else why not."""
    manifest, reason = mf.read_manifest(open_storage(str(folder)), "")
    return reason or mf.checksum_problem(manifest, folder)


def _sizes_in(ref: CheckpointRef, listing: dict[str, int]) -> dict[str, int]:
    """{name: size} of the files directly inside `ref`'s folder, from a listing of keys."""
    head = ref.key.strip("/") + "/"
    return {k[len(head):]: size for k, size in listing.items() if k.startswith(head)}


def _shallow_ok(ref: CheckpointRef, listing: dict[str, int]) -> bool:
    manifest, _ = mf.read_manifest(ref.storage, ref.key)
    return manifest is not None and mf.shallow_problem(manifest, _sizes_in(ref, listing)) == ""


def _entry(value: bytes | Path) -> dict[str, Any]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": mf.sha256_bytes(bytes(value)), "size": len(value)}
    return {"sha256": mf.sha256_file(Path(value)), "size": Path(value).stat().st_size}
