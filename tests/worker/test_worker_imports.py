"""What the engine loads at import, so that no job pays for it."""

from __future__ import annotations

import subprocess
import sys


def test_the_worker_loads_what_the_first_optimizer_needs_at_import() -> None:
    """torch.optim's constructors import torch._dynamo on first use (about a second): the
    worker's parent imports it with the engine, so forked pool processes never pay it in a job."""
    code = "import sys, worker.run; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
