"""The report figure: loss curves, validation tail MRR over steps with each run's count baseline
dashed, and median throughput bars with p10–p90 whiskers.

matplotlib is the optional `plots` extra, imported only here and only when a PNG is asked for.
"""

from __future__ import annotations

from pathlib import Path

from graphmer_dist.errors import ConfigError
from graphmer_dist.records.report import Row


def write_png(rows: list[Row], curves: dict[str, list[tuple[int, float]]], path: str,
              validation: dict[str, list[tuple[int, float, float]]] | None = None) -> None:
    plt = _pyplot()
    fig, (loss_ax, val_ax, bar_ax) = plt.subplots(1, 3, figsize=(19, 4.8))
    _plot_losses(loss_ax, curves)
    _plot_validation(val_ax, validation or {})
    _plot_throughput(bar_ax, rows)
    fig.tight_layout()
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_losses(ax, curves: dict[str, list[tuple[int, float]]]) -> None:
    drawn = False
    for label, points in curves.items():
        if points:
            steps, losses = zip(*points)
            ax.plot(steps, losses, label=label, linewidth=1.2)
            drawn = True
    _label_curves(ax, "training loss", "loss", drawn, "no metrics.jsonl reachable")


def _plot_validation(ax, curves: dict[str, list[tuple[int, float, float]]]) -> None:
    drawn = False
    for label, points in curves.items():
        if points:
            steps, mrr, baseline = zip(*points)
            line, = ax.plot(steps, mrr, marker="o", markersize=3, linewidth=1.2, label=label)
            ax.plot(steps, baseline, linestyle="--", color=line.get_color(), linewidth=1,
                    label=f"{label}: most-frequent-tail baseline")
            drawn = True
    _label_curves(ax, "validation tail MRR (val_lp)", "filtered MRR", drawn, "no validation rows with val_tail_mrr")


def _label_curves(ax, title: str, ylabel: str, drawn: bool, empty: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)


def _plot_throughput(ax, rows: list[Row]) -> None:
    labels = [row.label for row in rows]
    medians = [row.tokens_per_s or 0.0 for row in rows]
    low = [m - (row.tokens_per_s_p10 if row.tokens_per_s_p10 is not None else m) for m, row in zip(medians, rows)]
    high = [(row.tokens_per_s_p90 if row.tokens_per_s_p90 is not None else m) - m for m, row in zip(medians, rows)]
    ax.barh(range(len(rows)), medians, xerr=[low, high], color="tab:blue", capsize=3)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_title("throughput (median, p10–p90)")
    ax.set_xlabel("tokens/s")


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("report --png needs matplotlib, which is not installed; install the optional "
                          "extra with `pip install 'graphmer-dist[plots]'` or drop --png.") from exc
    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt
