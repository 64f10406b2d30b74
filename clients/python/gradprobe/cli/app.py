"""The `gradprobe` command: each subcommand lives in the module named for what it handles
(jobs, stats, plot, compare, specs, study); this file only puts them together."""

from __future__ import annotations

import typer

from gradprobe.cli import compare, jobs, plot, specs, stats, study

app = typer.Typer(
    name="gradprobe",
    help="See how gradients flow through a network: submit specs to a gradprobe service, "
    "follow them, and read their statistics. Set GRADPROBE_URL and GRADPROBE_API_KEY (or pass "
    "--url and --api-key). Exit codes: 0 success, 1 refused by the server or the job failed, "
    "2 usage or unreadable file, 3 server unreachable, 4 --wait timed out, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("submit")(jobs.submit)
app.command("status")(jobs.show)
app.command("list")(jobs.list_jobs)
app.command("stats")(stats.stats)
app.command("plot")(plot.plot)
app.command("cancel")(jobs.cancel)
app.command("compare")(compare.compare)
app.command("presets")(specs.presets)
app.command("validate")(specs.validate)

study_app = typer.Typer(
    help="Studies: one job per cell, compared in one table.", no_args_is_help=True
)
study_app.command("run")(study.run)
study_app.command("show")(study.show)
study_app.command("cancel")(study.cancel)
app.add_typer(study_app, name="study")


def main() -> None:
    """The console script's entry point."""
    app()
