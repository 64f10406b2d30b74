"""The one-screen terminal summary of a result (torch-free: reads the result document)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from gradprobe.result import Result

MAX_ROWS = 16
COLOURS = {"healthy": "green", "vanishing": "red", "exploding": "red", "diverged": "red"}


def _bar(value: float | None, low: float, high: float, width: int = 24) -> str:
    """A log-scale bar: the gradient flow profile at a glance."""
    if value is None or value <= 0 or not math.isfinite(value):
        return ""
    span = max(math.log10(high) - math.log10(low), 1e-12)
    filled = round(width * (math.log10(value) - math.log10(low)) / span)
    return "█" * max(filled, 1)


def _rows(result: Result) -> list[int]:
    """Trunk layers (one per unit of depth), thinned evenly to fit one screen."""
    trunk = [la.index for la in result.layers if la.trunk] or [la.index for la in result.layers]
    if len(trunk) <= MAX_ROWS:
        return trunk
    step = (len(trunk) - 1) / (MAX_ROWS - 1)
    return sorted({trunk[round(k * step)] for k in range(MAX_ROWS)})


def _flow_table(result: Result) -> Table:
    first, last = 0, len(result.steps) - 1
    table = Table(title="gradient flow (trunk layers, input side first)", title_justify="left")
    table.add_column("layer")
    table.add_column(f"‖∂L/∂W‖ step {result.steps[first]}", justify="right")
    table.add_column(f"‖∂L/∂h‖ step {result.steps[first]}", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column(f"‖∂L/∂W‖ step {result.steps[last]}", justify="right")
    w = result.metrics.get("weight_grad_norm", [])
    a = result.metrics.get("act_grad_norm", [])
    rows = _rows(result)
    shown = [v for j in rows if a and (v := a[first][j])]
    low, high = (min(shown), max(shown)) if shown else (1.0, 10.0)
    for j in rows:
        table.add_row(
            result.layers[j].name,
            _fmt(w[first][j] if w else None),
            _fmt(a[first][j] if a else None),
            _bar(a[first][j] if a else None, low / 1.5, high),
            _fmt(w[last][j] if w else None),
        )
    return table


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3g}"


def print_summary(result: Result, console: Console | None = None) -> None:
    console = console or Console()
    s, spec = result.summary, result.spec
    params = sum(la.params for la in result.layers)
    colour = COLOURS.get(s.verdict, "yellow")
    console.print(f"[bold]{spec.name or spec.model.type}[/]")
    console.print(
        f"{spec.model.type}, {len(result.layers)} layers, {params:,} parameters, "
        f"{spec.train.steps} steps on {result.device} ({result.precision}), "
        f"{result.timing.step_ms:.1f} ms/step"
    )
    if result.steps:
        console.print(_flow_table(result))
    loss = [v for v in result.loss if v is not None]
    if loss:
        acc = (
            f", accuracy {result.accuracy[-1]:.3f}"
            if result.accuracy and result.accuracy[-1]
            else ""
        )
        console.print(f"loss {loss[0]:.4g} → {loss[-1]:.4g}{acc}")
    console.print(
        f"first/last layer gradient ratio {_fmt(s.grad_ratio_first_last)}, "
        f"decay per layer {_fmt(s.decay_per_layer)}, per time step {_fmt(s.decay_per_timestep)}"
    )
    console.print(f"verdict: [bold {colour}]{s.verdict}[/]")
    for reason in s.reasons:
        console.print(f"  • {reason}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
