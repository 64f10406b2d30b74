"""The training loop itself: the learning rate each step trains with, and where it stops."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.run import prepare
from worker.trainer import train

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}


class Seen:
    """Hooks that keep the learning rate of every optimizer step (read at after_step)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.lrs: list[float] = []
        self.steps: list[int] = []
        self.stop_after = stop_after

    def start(self, optimizer: torch.optim.Optimizer, loss_scaling: bool) -> None:
        self.optimizer = optimizer

    def after_backward(self, step: int, loss: Tensor, output: Tensor, target: Tensor) -> None:
        self.steps.append(step)

    def after_step(self, step: int, updated: bool) -> None:
        if updated:
            self.lrs.append(self.optimizer.param_groups[0]["lr"])

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.steps) >= self.stop_after


def run(make_spec: Any, schedule: dict[str, Any], steps: int, hooks: Seen) -> Any:
    doc = make_spec({"type": "mlp", "depth": 2, "width": 8}, TEACHER)
    doc["train"] |= {"steps": steps, "optimizer": {"name": "sgd", "lr": 0.1}, "schedule": schedule}
    prepared = prepare(parse_spec(doc), Caps())
    return train(
        prepared.model,
        prepared.batches,
        prepared.spec.train,
        prepared.plan.data.target,
        hooks,
        prepared.device,
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"name": "constant"}, [0.1] * 6),
        ({"name": "constant", "warmup_steps": 3}, [0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.1, 0.1]),
        (
            {"name": "cosine", "warmup_steps": 2},
            [0.05, 0.1] + [0.05 * (1 + math.cos(math.pi * k / 4)) for k in range(4)],
        ),
        ({"name": "linear"}, [0.1 * (1 - k / 6) for k in range(6)]),
    ],
    ids=["constant", "warm-up", "cosine", "linear"],
)
def test_each_step_trains_at_its_scheduled_rate(
    make_spec: Any, schedule: dict[str, Any], expected: list[float]
) -> None:
    seen = Seen()
    log = run(make_spec, schedule, 6, seen)
    assert seen.lrs == pytest.approx(expected, rel=1e-12)
    assert seen.steps == list(range(7))  # six updates, and the final network's pass
    assert log.steps_run == 7 and len(log.step_times) == 7


def test_a_stop_ends_the_run_after_that_step(make_spec: Any) -> None:
    seen = Seen(stop_after=3)
    log = run(make_spec, {"name": "constant"}, 10, seen)
    assert seen.steps == [0, 1, 2]
    assert log.steps_run == 3 and len(log.step_times) == 3
