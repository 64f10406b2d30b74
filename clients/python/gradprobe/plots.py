"""Pictures of a result document, drawn with matplotlib (needs the `plots` extra).

The same code draws on the server (`/v1/jobs/{id}/plots/{name}.png`) and in the client, from
the result document alone. Figures are built without pyplot, so rendering is thread-safe and
never opens a window.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from gradprobe.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Format = Literal["png", "svg"]
SIZE = (10.0, 6.0)  # inches; at DPI this is the PNG's size in pixels
COMPARE_SIZE = (14.0, 6.0)  # the study comparison: profiles and ratios side by side
DPI = 100
MAX_LABELS = 40  # layer names on an axis; more are thinned evenly


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=SIZE, dpi=DPI, layout="constrained")


def _title(result: Result, what: str) -> str:
    """Two lines: what the plot shows with the verdict, then the spec's name (shortened)."""
    name = textwrap.shorten(result.spec.name or result.spec.model.type, width=100)
    return f"{what} (verdict: {result.summary.verdict})\n{name}"


def _rows(result: Result, metric: str) -> list[int]:
    """The layers that have `metric` at some probe, input side first."""
    grid = result.metrics.get(metric, [])
    return [j for j in range(len(result.layers)) if any(row[j] is not None for row in grid)]


def _positive(value: float | None) -> float:
    return value if value is not None and value > 0 and math.isfinite(value) else math.nan


def _label_layers(ax: Axes, names: list[str], axis: Literal["x", "y"]) -> None:
    every = max(1, math.ceil(len(names) / MAX_LABELS))
    ticks = list(range(0, len(names), every))
    labels = [names[i] for i in ticks]
    size = 8 if len(ticks) <= 25 else 6
    if axis == "y":
        ax.set_yticks(ticks, labels, fontsize=size)
    else:
        ax.set_xticks(ticks, labels, fontsize=size, rotation=60, ha="right")


def grad_flow(result: Result, metric: str = "weight_grad_norm") -> Figure:
    """Heatmap: layers (rows, input at the top) x probed steps, log colour scale."""
    from matplotlib.colors import LogNorm

    rows = _rows(result, metric)
    grid = result.metrics.get(metric, [])
    values = [[_positive(grid[i][j]) for i in range(len(result.steps))] for j in rows]
    finite = [v for row in values for v in row if not math.isnan(v)]
    fig = _figure()
    ax = fig.add_subplot()
    if not finite:
        ax.text(0.5, 0.5, f"no {metric} values", ha="center", va="center")
        return fig
    norm = LogNorm(vmin=min(finite), vmax=max(max(finite), min(finite) * 10))
    steps = result.steps
    image = ax.imshow(
        values,
        aspect="auto",
        norm=norm,
        cmap="viridis",
        interpolation="nearest",
        extent=(-0.5, len(steps) - 0.5, len(rows) - 0.5, -0.5),
    )
    _label_layers(ax, [result.layers[j].name for j in rows], "y")
    every = max(1, math.ceil(len(steps) / 12))
    ax.set_xticks(range(0, len(steps), every), [str(s) for s in steps[::every]])
    ax.set_xlabel("training step")
    ax.set_ylabel("layer (input at the top)")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"{metric} (log scale)")
    ax.set_title(_title(result, f"{metric} per layer and step"))
    return fig


def profile(result: Result, metric: str = "weight_grad_norm") -> Figure:
    """The gradient-flow chart: one line per chosen probe across the layers, log scale."""
    rows = _rows(result, metric)
    grid = result.metrics.get(metric, [])
    n = len(result.steps)
    picks = sorted({0, n // 2, n - 1}) if n else []
    fig = _figure()
    ax = fig.add_subplot()
    for i in picks:
        ax.plot(
            range(len(rows)),
            [_positive(grid[i][j]) for j in rows],
            marker="o",
            markersize=3,
            label=f"step {result.steps[i]}",
        )
    ax.set_yscale("log")
    _label_layers(ax, [result.layers[j].name for j in rows], "x")
    ax.set_xlabel("layer (input side first)")
    ax.set_ylabel(f"{metric} (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    if picks:
        ax.legend()
    ax.set_title(_title(result, f"{metric} across the layers"))
    return fig


def timesteps(result: Result) -> Figure:
    """RNN: ||dL/dh_t|| against the distance T - t from the last step, log scale."""
    fig = _figure()
    ax = fig.add_subplot()
    ts = result.timesteps
    if ts is None or not ts.grad_norm:
        ax.text(0.5, 0.5, "no recurrent layer in this model", ha="center", va="center")
        return fig
    n = len(ts.steps)
    for i in sorted({0, n // 2, n - 1}):
        row = ts.grad_norm[i]
        length = len(row)
        ax.plot(
            [length - 1 - t for t in range(length)],
            [_positive(v) for v in row],
            marker="o",
            markersize=3,
            label=f"step {ts.steps[i]}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("T - t (time steps back from the last)")
    ax.set_ylabel(f"‖∂L/∂h_t‖ of {ts.layer} (log scale)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(_title(result, "gradient through time"))
    return fig


def loss(result: Result) -> Figure:
    """Loss (and accuracy, when the task has one) against the training step."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(result.steps, [_nan(v) for v in result.loss], color="tab:blue", label="loss")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss", color="tab:blue")
    if result.accuracy:
        acc = ax.twinx()
        acc.plot(result.steps, [_nan(v) for v in result.accuracy], color="tab:orange")
        acc.set_ylabel("accuracy (fraction correct)", color="tab:orange")
        acc.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.set_title(_title(result, "loss and accuracy"))
    return fig


def units(result: Result) -> Figure:
    """Fractions of saturated and dead units per activation layer, at the last probe."""
    fig = _figure()
    ax = fig.add_subplot()
    rows = sorted(set(_rows(result, "saturated_frac")) | set(_rows(result, "dead_frac")))
    if not rows or not result.steps:
        ax.text(0.5, 0.5, "no activation statistics in this result", ha="center", va="center")
        return fig
    for metric, label in (("saturated_frac", "saturated"), ("dead_frac", "dead")):
        grid = result.metrics.get(metric)
        if grid:
            ax.plot(range(len(rows)), [_nan(grid[-1][j]) for j in rows], marker="o", label=label)
    _label_layers(ax, [result.layers[j].name for j in rows], "x")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("activation layer (input side first)")
    ax.set_ylabel(f"fraction of units (step {result.steps[-1]})")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(_title(result, "saturated and dead units"))
    return fig


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


PLOTS: dict[str, Callable[[Result], Figure]] = {
    "grad_flow": grad_flow,
    "profile": profile,
    "timesteps": timesteps,
    "loss": loss,
    "units": units,
}


def _save(fig: Figure, fmt: Format) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=DPI)
    return out.getvalue()


def render(result: Result, name: str, fmt: Format = "png") -> bytes:
    """One named plot of `result` as PNG or SVG bytes. Raises KeyError for an unknown name."""
    return _save(PLOTS[name](result), fmt)


def _profile_at_last(ax: Axes, label: str, result: Result, metric: str) -> None:
    """One variant's per-layer profile at its last probe, on a relative depth axis (0 = the
    input side, 1 = the output side), so that nets of different depths overlay. Only the
    trunk layers (the ones that count as depth) when the net marks any: a norm layer's own
    small weights would otherwise zigzag across the profile."""
    rows = _rows(result, metric)
    trunk = [j for j in rows if result.layers[j].trunk]
    rows = trunk or rows
    grid = result.metrics.get(metric, [])
    if not rows or not grid:
        return
    n = len(rows)
    depth = [j / (n - 1) if n > 1 else 0.5 for j in range(n)]
    ax.plot(depth, [_positive(grid[-1][j]) for j in rows], marker="o", markersize=2, label=label)


def compare(results: Sequence[tuple[str, Result]], metric: str = "weight_grad_norm") -> Figure:
    """A study side by side: every variant's per-layer `metric` at its last probe overlaid
    (log scale), and each variant's first/last-layer gradient ratio as a bar (log scale)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=COMPARE_SIZE, dpi=DPI, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    if not results:
        left.text(0.5, 0.5, "no finished cell yet", ha="center", va="center")
        return fig
    for label, result in results:
        _profile_at_last(left, label, result, metric)
    left.set_yscale("log")
    left.set_xlabel("relative depth (0 = first layer, 1 = last layer)")
    left.set_ylabel(f"{metric} at the last probe (log scale)")
    left.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=7)
    left.set_title("per-layer gradient profile of each variant")
    names = [label for label, _ in results]
    ratios = [_positive(r.summary.grad_ratio_first_last) for _, r in results]
    colours = ["tab:red" if r.summary.verdict != "healthy" else "tab:green" for _, r in results]
    right.barh(range(len(names)), [1.0 if math.isnan(v) else v for v in ratios], color=colours)
    labels = [
        f"{textwrap.shorten(n, 40)}\n({r.summary.verdict})"
        for n, (_, r) in zip(names, results, strict=True)
    ]
    right.set_yticks(range(len(names)), labels, fontsize=7)
    right.invert_yaxis()
    right.set_xscale("log")
    right.axvline(1.0, color="black", linewidth=0.8)
    right.set_xlabel("first / last layer gradient norm (log scale; 1 = no decay)")
    right.set_title("gradient ratio (green: healthy, red: not)")
    fig.suptitle(f"Study comparison: {len(results)} variants")
    return fig


def render_compare(results: Sequence[tuple[str, Result]], fmt: Format = "png") -> bytes:
    """`compare` as PNG or SVG bytes."""
    return _save(compare(results), fmt)
