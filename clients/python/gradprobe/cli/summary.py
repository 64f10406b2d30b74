"""How a job reads in the terminal: its state (`status`), and the summary of its result
(`submit --wait`): the model, the per-layer table, the loss, the decay and the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradprobe.api import JobView
from gradprobe.cli.layers import DEFAULT_METRICS, flow_table, rows_shown
from gradprobe.cli.output import num, status, verdict
from gradprobe.result import Result, Summary


def _when(view: JobView) -> list[tuple[str, str]]:
    stamps = [("created", view.created_at), ("started", view.started_at)]
    stamps.append(("finished", view.finished_at))
    return [(k, v.isoformat(timespec="seconds")) for k, v in stamps if v is not None]


def job_grid(view: JobView) -> Table:
    """The job as a two-column grid: what, value."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    p = view.progress
    grid.add_row("job", view.id)
    if view.name:
        grid.add_row("name", escape(view.name))
    grid.add_row("status", status(view.status) + (" (cancel requested)" * view.cancel_requested))
    grid.add_row("progress", f"step {p.step}/{p.total}, loss {num(p.loss)}")
    grid.add_row("queue", f"{view.queue}, {view.attempts} attempt(s)")
    for what, when in _when(view):
        grid.add_row(what, when)
    if view.summary is not None:
        grid.add_row("verdict", verdict(view.summary.verdict))
        for reason in view.summary.reasons:
            grid.add_row("", f"• {escape(reason)}")
    if view.error is not None:
        grid.add_row("error", f"[red]{escape(view.error.type)}: {escape(view.error.message)}[/]")
    return grid


def print_verdict(console: Console, s: Summary) -> None:
    console.print(
        f"first/last layer gradient ratio {num(s.grad_ratio_first_last)}, "
        f"decay per layer {num(s.decay_per_layer)}, per time step {num(s.decay_per_timestep)}"
    )
    console.print(f"verdict: {verdict(s.verdict)}")
    for reason in s.reasons:
        console.print(f"  • {escape(reason)}")


def print_result(console: Console, result: Result) -> None:
    """The one-screen summary of a result document."""
    spec = result.spec
    params = sum(la.params for la in result.layers)
    console.print(f"[bold]{escape(spec.name or spec.model.type)}[/]")
    console.print(
        f"{spec.model.type}, {len(result.layers)} layers, {params:,} parameters, "
        f"{spec.train.steps} steps on {result.device} ({result.precision}), "
        f"{result.timing.step_ms:.1f} ms/step"
    )
    if result.steps:
        console.print(flow_table(result, DEFAULT_METRICS, rows_shown(result, False)))
    loss = [v for v in result.loss if v is not None]
    if loss:
        accuracy = [a for a in result.accuracy or [] if a is not None]
        tail = f", accuracy {accuracy[-1]:.3f}" if accuracy else ""
        console.print(f"loss {loss[0]:.4g} → {loss[-1]:.4g}{tail}")
    print_verdict(console, result.summary)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
