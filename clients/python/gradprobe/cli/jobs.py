"""Jobs: `submit`, `status`, `list` and `cancel`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradprobe.api import JobStatus, JobView
from gradprobe.cli.errors import INTERRUPTED, CliError, handled
from gradprobe.cli.follow import follow
from gradprobe.cli.options import ApiKey, AsJson, JobId, SpecFile, Timeout, Url
from gradprobe.cli.output import emit, num, status, verdict
from gradprobe.cli.progress import Bar
from gradprobe.cli.session import connect
from gradprobe.cli.specfile import read_json
from gradprobe.cli.summary import job_grid, print_result
from gradprobe.client import Job
from gradprobe.result import Result


@handled
def submit(
    spec: SpecFile,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Name the job.")] = None,
    timeout: Timeout = 3600.0,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Submit a spec; with --wait, show its progress and then its summary."""
    body = read_json(spec)
    if name is not None:
        body["name"] = name
    with connect(url, api_key) as client:
        job = client.jobs.create(body)
        if not wait:
            emit(job.view, as_json, lambda c: c.print(job_grid(job.view)))
            return
        try:
            with Bar(job.id) as bar:
                follow(client, job, bar, timeout)
        except KeyboardInterrupt:
            hint = f"gradprobe status {job.id}, or gradprobe cancel {job.id}"
            raise CliError(f"stopped waiting; job {job.id} goes on ({hint})", INTERRUPTED) from None
        result = job.stats().result if job.summary is not None else None
        emit({"job": job.view, "result": result}, as_json, lambda c: _finished(c, job, result))
    if job.status == "cancelled":
        raise CliError(f"job {job.id} was cancelled", after_output=True, job_id=job.id)


def _finished(console: Console, job: Job, result: Result | None) -> None:
    console.print(f"job {job.id} {status(job.status)}")
    if result is not None:
        print_result(console, result)


@handled
def show(job_id: JobId, url: Url = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """A job's status, progress, verdict or error."""
    with connect(url, api_key) as client:
        view = client.jobs.get(job_id).view
    emit(view, as_json, lambda c: c.print(job_grid(view)))


def jobs_table(views: list[JobView]) -> Table:
    table = Table(title=f"{len(views)} job(s), newest first", title_justify="left")
    for column in ("id", "name", "status", "step", "loss", "verdict", "created"):
        table.add_column(column, no_wrap=column in ("id", "created"))
    for v in views:
        table.add_row(
            v.id,
            escape(v.name or ""),
            status(v.status),
            f"{v.progress.step}/{v.progress.total}",
            num(v.progress.loss),
            verdict(v.summary.verdict if v.summary else None),
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@handled
def list_jobs(
    state: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many jobs.")] = 20,
    url: Url = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Your jobs, newest first."""
    with connect(url, api_key) as client:
        views = [job.view for job in client.jobs.list(status=state, limit=limit)]
    emit(views, as_json, lambda c: c.print(jobs_table(views)))


@handled
def cancel(job_id: JobId, url: Url = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """Cancel a job: a queued one at once, a running one within a training step."""
    with connect(url, api_key) as client:
        view = client.jobs.cancel(job_id).view
    emit(view, as_json, lambda c: c.print(job_grid(view)))
