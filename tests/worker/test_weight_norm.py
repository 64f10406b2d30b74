"""weight_norm on the CPU is taken in the forward pass, layer by layer: every weight tensor
is normed there, and the value is the norm of the weights the step started from, even once
the update has moved them (update_ratio divides by it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.run import attach, prepare
from worker.stats.base import Probe
from worker.stats.weight_norm import TAKEN, WeightNorm, weight_norms

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}


def test_weight_norms_are_taken_in_the_forward_pass(make_spec: Any) -> None:
    doc = make_spec({"type": "mlp", "depth": 3, "width": 8}, TEACHER, precision="fp32")
    run = prepare(parse_spec(doc), Caps())
    stat = next(s for s in attach(run, run.spec.probe) if isinstance(s, WeightNorm))
    probe = Probe(0)
    observed = [layer for layer in range(len(run.model.names)) if stat.observes(layer)]
    run.model.observer = lambda layer, out: (
        stat.on_output(probe, layer, out) if layer in observed else None
    )
    run.model(run.batches.next()[0])
    run.model.observer = None
    w = stat.table.weights
    assert sorted(probe.scratch[TAKEN]) == list(range(len(w.tensors)))

    before = [p.detach().double().norm().item() for p in w.tensors]
    with torch.no_grad():  # an update after the forward pass does not change the value
        for p in w.tensors:
            p.mul_(3.0)
    got = np.asarray(weight_norms(probe, stat.table))  # NumPy on the host paths
    expected = [np.sqrt(sum(before[k] ** 2 for k in w.members[layer])) for layer in w.layers]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
