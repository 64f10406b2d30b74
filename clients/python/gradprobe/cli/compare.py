"""`compare`: jobs side by side, one row each (the same columns as a study's table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from gradprobe.api import JobView
from gradprobe.cli.errors import handled
from gradprobe.cli.options import ApiKey, AsJson, Url
from gradprobe.cli.output import emit, num, status, verdict
from gradprobe.cli.session import connect
from gradprobe.client import Client
from gradprobe.result import Result

Row = dict[str, Any]


def job_row(view: JobView, result: Result | None) -> Row:
    """A job as a comparison row; the figures are None until it has a result. The decay is
    per time step for a recurrent model (it has one), else per layer."""
    s = view.summary
    by_time = s is not None and s.decay_per_timestep is not None
    accuracy = [a for a in (result.accuracy or []) if a is not None] if result else []
    return {
        "variant": view.name or view.id,
        "job_id": view.id,
        "status": view.status,
        "verdict": s.verdict if s else None,
        "grad_ratio_first_last": s.grad_ratio_first_last if s else None,
        "decay": (s.decay_per_timestep if by_time else s.decay_per_layer) if s else None,
        "decay_over": ("timestep" if by_time else "layer") if s else None,
        "decay_per_layer": s.decay_per_layer if s else None,
        "decay_per_timestep": s.decay_per_timestep if s else None,
        "loss_drop": s.loss_drop if s else None,
        "final_accuracy": accuracy[-1] if accuracy else None,
        "step_ms": result.timing.step_ms if result else None,
    }


def _decay(row: Mapping[str, Any]) -> str:
    if row.get("decay") is None:
        return "—"
    return f"x{num(row['decay'])} per {'step' if row['decay_over'] == 'timestep' else 'layer'}"


def compare_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("variant")
    table.add_column("job", no_wrap=True)
    table.add_column("status")
    table.add_column("verdict")
    for head in ("grad ratio first/last", "decay", "loss drop", "final accuracy", "ms/step"):
        table.add_column(head, justify="right")
    for r in rows:
        table.add_row(
            escape(str(r["variant"])),
            r["job_id"],
            status(r["status"]) if r.get("status") else "—",
            verdict(r["verdict"]),
            num(r["grad_ratio_first_last"]),
            _decay(r),
            num(r["loss_drop"]),
            num(r["final_accuracy"]),
            "—" if r["step_ms"] is None else f"{r['step_ms']:.1f}",
        )
    return table


def fetch_row(client: Client, job_id: str) -> Row:
    job = client.jobs.get(job_id)
    # Two probes (first and last) are all a row needs: keep the document small.
    result = client.jobs.stats(job_id, max_points=2) if job.summary is not None else None
    return job_row(job.view, result)


@handled
def compare(
    job_ids: Annotated[list[str], typer.Argument(help="Two or more job ids.", metavar="ID...")],
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Jobs side by side: verdict, first/last-layer gradient ratio, decay, loss drop, final
    accuracy and time per step."""
    with connect(url, api_key) as client:
        rows = [fetch_row(client, job_id) for job_id in job_ids]
    emit(rows, as_json, lambda c: c.print(compare_table(rows, f"{len(rows)} job(s)")))
