"""`stats`: a job's gradient norms layer by layer."""

from __future__ import annotations

from typing import Annotated

import typer

from gradprobe.cli.errors import handled
from gradprobe.cli.layers import DEFAULT_METRICS, flow_table, rows_shown
from gradprobe.cli.options import ApiKey, AsJson, JobId, Url
from gradprobe.cli.output import emit
from gradprobe.cli.session import connect

Names = Annotated[
    str | None,
    typer.Option(help="Comma-separated names (the server filters the document).", metavar="A,B"),
]


def split(names: str | None) -> list[str] | None:
    return [n.strip() for n in names.split(",") if n.strip()] if names else None


@handled
def stats(
    job_id: JobId,
    layers: Names = None,
    metrics: Names = None,
    every_layer: Annotated[
        bool, typer.Option("--all", help="Every layer, not only one per unit of depth.")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Per layer: the weight and activation gradient norms at the first and last probe, with
    a log-scale bar. --json prints the (filtered) result document."""
    wanted = split(metrics)
    with connect(url, api_key) as client:
        result = client.jobs.stats(job_id, layers=split(layers), metrics=wanted)
    shown = wanted or [m for m in DEFAULT_METRICS if m in result.metrics] or list(result.metrics)
    rows = rows_shown(result, every_layer or layers is not None)
    emit(result, as_json, lambda c: c.print(flow_table(result, shown, rows)))
