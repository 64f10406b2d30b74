"""The per-layer table of a result: each layer's gradient norms at the first and the last
probe, with a log-scale bar of the first probe's norms (the gradient flow at a glance)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from gradprobe.cli.output import bounds, log_bar, num
from gradprobe.result import Result

DEFAULT_METRICS = ("weight_grad_norm", "act_grad_norm")
HEADS = {"weight_grad_norm": "‖∂L/∂W‖", "act_grad_norm": "‖∂L/∂h‖"}


def rows_shown(result: Result, every_layer: bool) -> list[int]:
    """Positions in `result.layers`: the trunk (one layer per unit of depth) unless
    `every_layer`, or when the result marks no trunk (a document filtered to some layers)."""
    everything = list(range(len(result.layers)))
    if every_layer:
        return everything
    return [j for j, la in enumerate(result.layers) if la.trunk] or everything


def bar_metric(metrics: Sequence[str]) -> str:
    """The metric drawn as the bar: the activation gradient when shown (it exists for every
    layer), else the first."""
    return "act_grad_norm" if "act_grad_norm" in metrics else metrics[0]


def flow_table(result: Result, metrics: Sequence[str], rows: list[int]) -> Table:
    metrics = [m for m in metrics if m in result.metrics]
    n = len(result.steps)
    probes = [0, n - 1] if n > 1 else [0] if n else []  # no probe yet: only the names
    title = "gradient flow (input side first; @ = training step)"
    table = Table(title=title, title_justify="left")
    table.add_column("layer", no_wrap=True)
    bar = bar_metric(metrics) if metrics and probes else None
    for i in probes:
        for m in metrics:
            table.add_column(f"{HEADS.get(m, m)} @{result.steps[i]}", justify="right")
        if i == 0 and bar is not None:
            table.add_column(f"log {HEADS.get(bar, bar)} @{result.steps[0]}", no_wrap=True)
    grid = {m: result.metrics[m] for m in metrics}
    low, high = bounds([grid[bar][0][j] for j in rows]) if bar else (1.0, 10.0)
    for j in rows:
        cells = [result.layers[j].name]
        for i in probes:
            cells += [num(grid[m][i][j]) for m in metrics]
            if i == 0 and bar is not None:
                cells.append(f"[cyan]{log_bar(grid[bar][0][j], low, high)}[/]")
        table.add_row(*cells)
    return table
