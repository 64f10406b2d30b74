"""The per-layer norms the live events carry: what the engine hands out at each probe
(worker.run.layer_norms), its cap on layers, and the worker's throttle on progress writes."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from service.tasks.job import Throttle
from worker.recorder import Recording
from worker.run import MAX_LIVE_LAYERS, execute, layer_norms, spaced


def test_spaced_keeps_every_index_up_to_the_cap_then_evenly_spaced_ends_included() -> None:
    assert spaced(5, 8) == [0, 1, 2, 3, 4]
    assert spaced(8, 8) == list(range(8))
    picked = spaced(1001, 100)
    assert len(picked) == 100 and picked[0] == 0 and picked[-1] == 1000
    gaps = {b - a for a, b in itertools.pairwise(picked)}
    assert gaps == {10, 11}  # evenly spaced: 999 / 99 = 10.1 apart


def test_each_probe_hands_out_the_norms_it_measured_by_layer_name() -> None:
    seen: list[tuple[int, float | None, dict[str, Any]]] = []
    result = execute(
        {
            "model": {"type": "mlp", "depth": 3, "width": 16},
            "train": {"steps": 30, "batch_size": 16, "device": "cpu"},
            "probe": {"every": 10},
        },
        layer_progress=lambda step, loss, latest: seen.append((step, loss, latest())),
    )
    names = [la.name for la in result.layers]
    assert [s for s, _, _ in seen] == result.steps == [0, 10, 20, 30]
    for probe, (step, loss, norms) in enumerate(seen):
        assert loss == result.loss[probe]
        assert norms["step"] == step and norms["layer_count"] == len(names)
        assert norms["metrics"] == ["act_grad_norm", "weight_grad_norm"]
        assert list(norms["layers"]) == names
        for m, metric in enumerate(norms["metrics"]):
            for layer, name in enumerate(names):
                want = result.metrics[metric][probe][layer]
                got = norms["layers"][name][m]
                if want is None:
                    assert got is None
                else:
                    assert got == pytest.approx(want, rel=1e-3)
    weights = [norms["layers"]["h1.linear"][1] for _, _, norms in seen]
    assert all(w is not None and w > 0 for w in weights)


def recording(n_layers: int, values: Callable[[int], float | None]) -> Recording:
    rec = Recording(steps=[0, 7])
    for metric in ("act_grad_norm", "weight_grad_norm", "act_std"):
        rec.layer[metric] = [[1.0] * n_layers, [values(i) for i in range(n_layers)]]
    return rec


def test_a_200_layer_mlp_is_sent_whole_in_a_few_kilobytes() -> None:
    names = ["h1.linear", "h1.act"] * 200 + ["out.linear"]  # 401 graph layers, as planned
    names = [f"{n}{i}" for i, n in enumerate(names)]  # distinct
    norms = layer_norms(names, recording(401, lambda i: 1.234567e-5 * (i + 1)), 1)
    assert norms["step"] == 7 and norms["metrics"] == ["act_grad_norm", "weight_grad_norm"]
    assert len(norms["layers"]) == 401 <= MAX_LIVE_LAYERS
    assert norms["layers"][names[0]] == [1.235e-05, 1.235e-05]  # four significant digits
    assert len(json.dumps(norms)) < 16_000


def test_deeper_nets_are_thinned_to_evenly_spaced_layers_and_non_finite_values_are_null() -> None:
    names = [f"l{i}" for i in range(1000)]
    bad = {3: math.nan, 500: math.inf}
    norms = layer_norms(names, recording(1000, lambda i: bad.get(i, float(i))), 1, cap=50)
    assert norms["layer_count"] == 1000
    assert list(norms["layers"]) == [names[i] for i in spaced(1000, 50)]
    assert norms["layers"]["l0"] == [0.0, 0.0] and norms["layers"]["l999"] == [999.0, 999.0]
    full = layer_norms(names, recording(1000, lambda i: bad.get(i, float(i))), 1, cap=1000)
    assert full["layers"]["l3"] == [None, None] and full["layers"]["l500"] == [None, None]
    json.loads(json.dumps(full), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_writes_a_few_a_second_and_always_the_last() -> None:
    clock, written, built = Clock(), [], []

    def latest(step: int) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            built.append(step)
            return {"step": step}

        return build

    throttle = Throttle(lambda s, loss, n: written.append((s, loss, n)), 0.25, clock)
    throttle.flush()
    assert written == []  # nothing held, nothing written
    for step in range(0, 100, 10):  # ten probes 0.1 s apart
        throttle(step, float(step), latest(step))
        clock.now += 0.1
    assert [s for s, _, _ in written] == [0, 30, 60, 90]  # at most one per 0.25 s
    throttle(100, 1.0, latest(100))  # 0.1 s after the last write: held
    assert [s for s, _, _ in written] == [0, 30, 60, 90]
    throttle.flush()
    assert written[-1] == (100, 1.0, {"step": 100})
    assert built == [0, 30, 60, 90, 100]  # the norms of dropped probes are never built
    throttle.flush()
    assert len(written) == 5  # flushed once
