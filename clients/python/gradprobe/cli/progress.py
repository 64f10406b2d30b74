"""The progress bar of `--wait`, on standard error: step of total, the latest loss and the
time left, fed by `Job.wait(progress=...)` (or by a study's cells)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gradprobe.cli.output import num
from gradprobe.client import Job


class Bar:
    """`with Bar("job_1") as bar: job.wait(progress=bar.job)`."""

    def __init__(self, label: str, unit: str = "step") -> None:
        console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit + "s  {task.fields[status]}  loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,  # no bar in a log file: the summary follows
        )
        self.task: TaskID = self.progress.add_task(label, total=None, status="queued", loss="—")

    def update(self, done: int, total: int, status: str, loss: float | None = None) -> None:
        self.progress.update(
            self.task, completed=done, total=total or None, status=status, loss=num(loss)
        )

    def job(self, job: Job) -> None:
        """A `Job.wait` progress callback."""
        p = job.progress
        self.update(p.step, p.total, job.status, p.loss)

    def __enter__(self) -> Bar:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()
