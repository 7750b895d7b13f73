"""The plan as a `rich` table: what will run, where, and why it fits."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from launch.plan import Plan

GIB = 1024**3


def _gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m ({int(seconds)} s)"


def plan_rows(plan: Plan) -> list[tuple[str, str]]:
    assumed = " [yellow](assumed hardware, not probed)[/]" if plan.assumed_hardware else ""
    strategy = plan.strategy + (f" ZeRO-{plan.zero_stage}" if plan.zero_stage else "") + \
        (" + optimizer offload" if plan.offload_optimizer else "")
    fits = plan.estimated_memory_bytes <= plan.usable_memory_bytes
    return [
        ("platform", f"{plan.platform}{assumed}"),
        ("devices", f"{plan.num_devices} × {plan.device_name} ({plan.accelerator}, {_gib(plan.device_memory_bytes)})"
                    + (f" on {plan.num_nodes} nodes" if plan.num_nodes > 1 else "")),
        ("strategy", strategy),
        ("workers", f"{plan.num_workers} × {plan.cpus_per_worker} CPU, {plan.dataloader_workers} dataloader workers"),
        ("precision", plan.precision),
        ("batch", f"{plan.micro_batch_size} micro × {plan.grad_accum_steps} accumulation × {plan.num_workers} "
                  f"workers = {plan.global_batch_size} global"),
        ("memory / device", f"{_gib(plan.estimated_memory_bytes)} estimated of {_gib(plan.usable_memory_bytes)} usable "
                            f"({'fits' if fits else 'DOES NOT FIT'}; params {plan.memory['params'] / 1e6:.1f} M)"),
        ("time limit", _duration(plan.time_limit_s)),
        ("run folder", plan.run_dir),
        ("checkpoint every", f"{plan.checkpoint_interval_steps} steps"),
        ("resume also from", ", ".join(plan.resume_roots) or "-"),
        ("config", f"{plan.config.name} ({plan.config.hash()})"),
    ]


def print_plan(plan: Plan, console: Console | None = None) -> None:
    table = Table(title="graphmer-launch plan", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in plan_rows(plan):
        table.add_row(key, value)
    console = console or Console()
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
