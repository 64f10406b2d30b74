"""The contract package and the server command line never import torch (the API process
must stay torch-free); checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_contract_and_cli_import_without_torch() -> None:
    code = (
        "import sys, gradprobe, gradprobe.plan, gradprobe.result, service.cli, service.report;"
        "gradprobe.plan.plan_document({'model': {'type': 'transformer'}});"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
