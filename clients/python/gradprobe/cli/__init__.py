"""The `gradprobe` command line: the Python client in a terminal.

    gradprobe submit spec.json --wait     # a progress bar, then the summary
    gradprobe stats JOB_ID                # the per-layer gradient table
    gradprobe compare JOB_ID JOB_ID ...   # verdicts and decay side by side

Every command takes `--url` / `--api-key` (else GRADPROBE_URL / GRADPROBE_API_KEY) and
`--json`; it exits 0 on success and non-zero with the server's message otherwise
(`gradprobe.cli.errors` lists the codes).
"""

from gradprobe.cli.app import app, main

__all__ = ["app", "main"]
