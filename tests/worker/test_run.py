"""Run-level behaviour of execute(): probing at init, divergence, cancellation, fallbacks,
and the bound on the result's size."""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import pytest

from worker.recorder import Recorder
from worker.run import execute, frozen_heap
from worker.schedule import METRICS_BUDGET_BYTES, probe_steps

MLP = {"type": "mlp", "depth": 3, "width": 16}


def spec(**train: Any) -> dict[str, Any]:
    return {"model": MLP, "train": {"batch_size": 16, "device": "cpu", **train}}


def test_steps_zero_probes_once_at_init() -> None:
    result = execute(spec(steps=0))
    assert result.steps == [0] and len(result.loss) == 1
    assert result.metrics["update_ratio"][0][0] is None  # nothing was updated


def test_probe_schedule_includes_init_and_end() -> None:
    result = execute({**spec(steps=25), "probe": {"every": 10}})
    assert result.steps == [0, 10, 20, 25]


def test_divergence_is_a_verdict_not_an_exception() -> None:
    result = execute(
        {
            **spec(steps=200, optimizer={"name": "sgd", "lr": 100.0, "momentum": 0.9}),
            "probe": {"every": 50},
        }
    )
    assert result.summary.verdict == "diverged"
    first = result.summary.first_nonfinite_step
    assert first is not None and 0 < first <= 200
    assert result.steps[-1] < 200  # the run stopped at the next probe instead of running on
    assert json.loads(result.model_dump_json())["summary"]["verdict"] == "diverged"  # NaN-free JSON


@pytest.mark.parametrize("losses_on_host", [True, False], ids=["host", "tensors"])
def test_the_first_bad_step_is_exact_when_losses_are_checked_between_probes(
    losses_on_host: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Losses pile up between probes far apart and are checked once too many have: the
    first non-finite step is the one the next probe would have found, and the run stops
    there rather than at that probe. Host losses are floats, others tensors."""
    diverging = {  # a linear net's loss itself overflows within a few steps
        **spec(steps=200, optimizer={"name": "sgd", "lr": 100.0, "momentum": 0.9}),
        "model": {**MLP, "activation": "linear"},
        "probe": {"every": 100},
    }
    if not losses_on_host:
        monkeypatch.setattr("worker.recorder.is_host", lambda t: False)
    at_probe = execute(diverging)
    first = at_probe.summary.first_nonfinite_step
    assert first is not None and 0 < first < 90  # found at the probe of step 100
    monkeypatch.setattr(Recorder, "max_pending", 3)
    between = execute(diverging)
    assert between.summary.first_nonfinite_step == first
    assert between.summary.verdict == at_probe.summary.verdict == "diverged"
    assert between.timing.probes == 1 and at_probe.timing.probes == 2  # stopped before 100


def test_cancel_stops_within_a_step_and_progress_is_reported() -> None:
    seen: list[int] = []
    result = execute(
        spec(steps=1000),
        progress=lambda step, loss: seen.append(step),
        should_cancel=lambda: len(seen) >= 2,
    )
    assert seen[:2] == [0, 10]
    assert result.steps == [0, 10]
    assert result.timing.total_s > 0


def test_cuda_request_and_half_precision_fall_back_to_cpu() -> None:
    result = execute(spec(steps=2, device="cuda" if False else "auto", precision="bf16"))
    assert result.device == "cpu" and result.precision == "fp32"
    assert any("bf16" in w for w in result.warnings)


def test_result_size_is_bounded_whatever_the_run_length() -> None:
    """The byte budget thins the probes: a 200-layer MLP probed every step stays small. The
    thinning depends on layers and the budget, not on the number of steps, so 300 steps show
    what 10,000 would."""
    result = execute(
        {
            "model": {"type": "mlp", "depth": 100, "width": 4},
            "train": {"steps": 300, "batch_size": 8, "device": "cpu"},
            "probe": {"every": 1, "max_points": 10_000},
        }
    )
    assert len(result.layers) == 201
    metrics = json.dumps(json.loads(result.model_dump_json())["metrics"], separators=(",", ":"))
    assert len(metrics) < METRICS_BUDGET_BYTES
    assert 2 < len(result.steps) < 300
    assert len(result.model_dump_json()) < 2_000_000


def test_probe_steps_thinning_keeps_ends() -> None:
    steps = probe_steps(10_000, 10, 200, bytes_per_point=100_000)
    assert steps[0] == 0 and steps[-1] == 10_000 and len(steps) == 15
    assert probe_steps(10_000, 10, 50, bytes_per_point=10)[:2] == [0, 200]


def test_learning_only_the_class_frequencies_is_not_training() -> None:
    """A vanishing 30-layer sigmoid net learns the output bias (the loss drops from its
    initial value towards ln 10) and nothing else: `not_training` must still fire, because
    the drop is measured from the loss of predicting the class frequencies."""
    result = execute(
        {
            "model": {
                "type": "mlp",
                "depth": 30,
                "width": 32,
                "activation": "sigmoid",
                "init": {"scheme": "xavier_normal", "gain": 3.0},
            },
            "data": {"name": "digits"},
            "train": {"steps": 60, "batch_size": 64, "device": "cpu", "optimizer": {"lr": 0.05}},
            "probe": {"every": 20},
        }
    )
    checks = {c.name: c for c in result.summary.checks}
    assert checks["not_training"].triggered, result.summary
    assert (
        result.summary.loss_drop is not None
        and result.summary.loss_drop > checks["not_training"].value
    )


def test_training_runs_with_the_heap_frozen_and_leaves_nothing_frozen() -> None:
    """execute() hides the heap from full garbage collections while it trains, and unfreezes
    it after: a reference cycle made before or during the run is collected afterwards."""

    class Node:
        other: Node | None = None

    def cycle() -> weakref.ref[Node]:
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    before = cycle()
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        during = cycle()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert before() is None and during() is None
    execute({"model": {"type": "mlp", "depth": 2, "width": 8}, "train": {"steps": 2}})
    assert gc.get_freeze_count() == 0
