"""Where records live: `<run_dir>/benchmarks.jsonl` and an optional collection store.

A run folder is written by one run, so its records are appended to one JSONL file. A store collects
records from many runs at once (several platforms writing to one bucket), and S3 objects cannot be
appended to, so the store gets one object per record: `<store>/benchmarks/<created_at>-<run_id>.json`.
`load_records` reads both layouts, from files, folders and s3:// prefixes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from graphmer_dist.errors import DataError
from graphmer_dist.records.schema import validate_record

RUN_FILE = "benchmarks.jsonl"
STORE_FOLDER = "benchmarks"
SOURCE_KEY = "_source"
"""Added by `load_records`: 'file:line' the record came from (not part of the schema, never written)."""


def append_record(run_dir: str, record: dict[str, Any], store: str | None = None, endpoint: str | None = None) -> None:
    """Append `record` to `<run_dir>/benchmarks.jsonl` and, when given, put a copy into `store`."""
    clean = {k: v for k, v in record.items() if k != SOURCE_KEY}
    line = json.dumps(clean, sort_keys=True) + "\n"
    if _is_s3(run_dir):
        storage = _open(run_dir, endpoint)
        old = storage.read_bytes(RUN_FILE) if storage.exists(RUN_FILE) else b""
        storage.write_bytes(RUN_FILE, old + line.encode())
    else:
        path = Path(run_dir).expanduser() / RUN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
    if store:
        name = f"{STORE_FOLDER}/{clean['created_at'].replace(':', '')}-{clean['run_id']}.json"
        data = json.dumps(clean, sort_keys=True, indent=1).encode()
        if _is_s3(store):
            _open(store, endpoint).write_bytes(name, data)
        else:
            target = Path(store).expanduser() / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def load_records(sources: Iterable[str], endpoint: str | None = None) -> list[dict[str, Any]]:
    """Validated records from JSON/JSONL files, run folders, store folders (searched recursively)
    and s3:// prefixes, in the order given. A malformed record raises DataError naming file and line."""
    records: list[dict[str, Any]] = []
    for source in sources:
        found = _s3_records(source, endpoint) if _is_s3(source) else _local_records(Path(source).expanduser())
        records.extend(found)
    return records


def parse_records(text: str, where: str) -> list[dict[str, Any]]:
    """Records in a .jsonl text (one per line) or a .json text (one object, or a list of them)."""
    if where.endswith(".json"):
        data = _loads(text, where)
        items = data if isinstance(data, list) else [data]
        return [_tagged(validate_record(item, where), where) for item in items]
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            at = f"{where}:{number}"
            out.append(_tagged(validate_record(_loads(line, at), at), at))
    return out


def _local_records(path: Path) -> list[dict[str, Any]]:
    if path.is_file():
        return parse_records(_read_text(path), str(path))
    if not path.is_dir():
        raise DataError(f"benchmark records: '{path}' does not exist. Pass benchmarks.jsonl files, run folders, "
                        "record store folders or s3:// prefixes.")
    files = sorted(path.rglob(RUN_FILE)) + sorted(path.rglob(f"{STORE_FOLDER}/*.json"))
    if not files:
        raise DataError(f"benchmark records: no {RUN_FILE} or {STORE_FOLDER}/*.json under '{path}'. "
                        "Runs write benchmarks.jsonl into their run folder when they finish; point at a "
                        "run folder or a --bench-store folder.")
    return [record for file in files for record in parse_records(_read_text(file), str(file))]


def _s3_records(uri: str, endpoint: str | None) -> list[dict[str, Any]]:
    storage = _open(uri, endpoint)
    keys = sorted(k for k in storage.list("") if k.endswith(RUN_FILE) or
                  (k.endswith(".json") and f"{STORE_FOLDER}/" in k))
    if not keys:
        raise DataError(f"benchmark records: no {RUN_FILE} or {STORE_FOLDER}/*.json under '{uri}'.")
    base = uri.rstrip("/")
    return [r for k in keys for r in parse_records(storage.read_bytes(k).decode("utf-8"), f"{base}/{k}")]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"benchmark records: cannot read '{path}': {exc}.") from exc


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"benchmark record at {where} is not valid JSON ({exc.msg}, column {exc.colno}); "
                        "a run that died mid-write leaves a torn last line: delete that line.") from exc


def _tagged(record: dict, where: str) -> dict:
    record[SOURCE_KEY] = where
    return record


def _is_s3(location: str) -> bool:
    return location.startswith("s3://")


def _open(uri: str, endpoint: str | None):
    """The storage helper's client rooted at `uri` (keys are relative to it)."""
    from graphmer_dist.storage import open_storage

    return open_storage(uri, endpoint=endpoint)
