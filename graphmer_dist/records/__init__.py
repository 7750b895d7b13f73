"""Benchmark records: collect them during a run, store them, read them back for the report.

See schema.py for the record's fields and docs/interfaces.md for who writes and reads them.
"""

from graphmer_dist.records.collector import RunBenchmark, git_commit
from graphmer_dist.records.peaks import PEAK_FLOPS, cpu_peak_flops, resolve_peak, table_peak_flops
from graphmer_dist.records.schema import SCHEMA_VERSION, record_problems, validate_record
from graphmer_dist.records.store import SOURCE_KEY, append_record, load_records

__all__ = [
    "PEAK_FLOPS", "SCHEMA_VERSION", "SOURCE_KEY", "RunBenchmark", "append_record", "cpu_peak_flops",
    "git_commit", "load_records", "record_problems", "resolve_peak", "table_peak_flops", "validate_record",
]
