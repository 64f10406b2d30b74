"""A probe's hooks live for its step only: the post-accumulate-grad hooks that norm the
weight gradients inside backward (CPU) are gone after the probed step, so unprobed steps
run exactly the bare loop's backward."""

from __future__ import annotations

from typing import Any

import torch

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.recorder import Recorder
from worker.run import attach, prepare
from worker.trainer import train

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}


def hooks_on(params: list[torch.Tensor]) -> int:
    return sum(len(p._post_accumulate_grad_hooks or {}) for p in params)


def test_weight_grad_hooks_exist_only_during_a_probed_step(make_spec: Any) -> None:
    doc = make_spec({"type": "mlp", "depth": 3, "width": 8}, TEACHER, precision="fp32")
    run = prepare(parse_spec(doc), Caps())
    stats = attach(run, run.spec.probe)
    params = list(run.model.parameters())
    seen: list[tuple[int, int]] = []  # (step, hooks present during that step's backward)

    class Watching(Recorder):
        def after_backward(self, step: int, *args: Any) -> None:
            seen.append((step, hooks_on(params)))
            super().after_backward(step, *args)

    recorder = Watching(run.model, stats, [0, 2], run.plan.data.target)
    spec = run.spec.train.model_copy(update={"steps": 3})
    train(run.model, run.batches, spec, run.plan.data.target, recorder, run.device)
    weights = len(stats[0].table.weights.tensors)
    assert weights > 0
    assert seen == [(0, weights), (1, 0), (2, weights), (3, 0)]
    assert hooks_on(params) == 0
    assert recorder.rec.steps == [0, 2]


def test_the_worker_loads_what_the_first_optimizer_needs_at_import() -> None:
    """torch.optim's constructors import torch._dynamo on first use (about a second): the
    worker's parent imports it with the engine, so forked pool processes never pay it in a job."""
    import subprocess
    import sys

    code = "import sys, worker.run; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
