"""The options every command shares, as `Annotated` aliases, so that a command's signature
reads as what it is about: `def status(job_id: JobId, url: Url = None, ...)`."""

from __future__ import annotations

from typing import Annotated

import typer

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="GRADPROBE_URL",
        help="The service's URL [default: http://127.0.0.1:8000].",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="GRADPROBE_API_KEY", help="Your API key.", show_default=False),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
JobId = Annotated[str, typer.Argument(help="A job id (job_...).", show_default=False)]
SpecFile = Annotated[str, typer.Argument(help="A spec as a JSON file ('-' reads standard input).")]
Timeout = Annotated[
    float, typer.Option("--timeout", help="With --wait: give up waiting after this many seconds.")
]
