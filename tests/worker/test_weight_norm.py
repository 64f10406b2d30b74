"""weight_norm is the norm of the weights the probed step started from: taken after backward,
before the update, and kept for the probe (update_ratio divides by it after the update)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.run import attach, prepare
from worker.stats.base import Probe
from worker.stats.weight_norm import WeightNorm, weight_norms

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}


def test_weight_norms_are_those_before_the_update(make_spec: Any) -> None:
    doc = make_spec({"type": "mlp", "depth": 3, "width": 8}, TEACHER, precision="fp32")
    run = prepare(parse_spec(doc), Caps())
    stat = next(s for s in attach(run, run.spec.probe) if isinstance(s, WeightNorm))
    w = stat.table.weights
    before = [p.detach().double().norm().item() for p in w.tensors]
    probe = Probe(0)
    first = np.asarray(weight_norms(probe, stat.table)).copy()  # NumPy on the host paths
    with torch.no_grad():  # the update moves the weights
        for p in w.tensors:
            p.mul_(3.0)
    kept = np.asarray(weight_norms(probe, stat.table))
    expected = [np.sqrt(sum(before[k] ** 2 for k in w.members[layer])) for layer in w.layers]
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    np.testing.assert_array_equal(kept, first)  # the probe's value, not the moved weights
    np.testing.assert_allclose(np.asarray(weight_norms(Probe(1), stat.table)), 3 * first, rtol=1e-6)
