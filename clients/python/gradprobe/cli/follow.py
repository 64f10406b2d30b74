"""Following a job or a study for `--wait`. The client's waits do the following (live from
the Server-Sent Events when the server sends them, else by polling, with the deadline and the
errors of `Job.wait` / `studies.wait`); this module only shows their progress on the bar."""

from __future__ import annotations

from collections.abc import Iterable

from gradprobe.api import StudyView
from gradprobe.cli.progress import Bar
from gradprobe.client import Client, Job

CellState = tuple[str, int, int]  # status, step, total
ENDED = ("succeeded", "failed", "cancelled")


def follow(client: Client, job: Job, bar: Bar, timeout: float) -> Job:
    """Wait at most `timeout` seconds for `job` to end, showing its progress on `bar`."""
    return job.wait(timeout=timeout, progress=bar.job)


def show_cells(bar: Bar, cells: Iterable[CellState]) -> None:
    """A study on one bar: the steps of all its cells, and how many cells have ended."""
    states = list(cells)
    ended = sum(status in ENDED for status, _, _ in states)
    done, total = sum(s[1] for s in states), sum(s[2] for s in states)
    bar.update(done, total, f"{ended}/{len(states)} cells ended")


def study_cells(view: StudyView) -> dict[str, CellState]:
    return {c.job_id: (c.status, c.progress.step, c.progress.total) for c in view.cells}


def follow_study(client: Client, view: StudyView, bar: Bar, timeout: float) -> StudyView:
    """Wait at most `timeout` seconds for every cell of the study to end; returns its view
    (with the comparison table)."""

    def show(v: StudyView) -> None:
        show_cells(bar, study_cells(v).values())

    return client.studies.wait(view.id, timeout, progress=show)
