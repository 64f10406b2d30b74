"""update_ratio over several steps, for every way it is computed: from SGD's momentum buffer,
from the gradient (plain SGD), and by copying the weights (Nesterov, weight decay without
momentum, Adam, RMSprop). The reference replays the run with torch.optim on a twin model,
in float64, and measures W_after - W_before directly."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.losses import loss_fn
from worker.run import execute, prepare
from worker.stats.update_ratio import state_gives_update

OPTIMIZERS = {
    "sgd_momentum": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "sgd_momentum_decay": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.1},
    "sgd_plain": {"name": "sgd", "lr": 0.05, "momentum": 0.0},
    "sgd_nesterov": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "sgd_decay_no_momentum": {"name": "sgd", "lr": 0.05, "momentum": 0.0, "weight_decay": 0.1},
    "adam": {"name": "adam", "lr": 0.01},
    "rmsprop": {"name": "rmsprop", "lr": 0.01, "momentum": 0.5},
}


def reference_ratios(doc: dict[str, Any], steps: int) -> list[list[float]]:
    """Per step, per weighted layer: ||W_after - W_before|| / ||W_before||."""
    spec = parse_spec(doc)
    run = prepare(spec, Caps())
    model, batches, plan = run.model, run.batches, run.plan
    o = spec.train.optimizer
    if o.name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(),
            lr=o.lr,
            momentum=o.momentum,
            nesterov=o.nesterov,
            weight_decay=o.weight_decay,
        )
    elif o.name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=o.lr)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=o.lr, momentum=o.momentum)
    layers = [[p for n, p in m.named_parameters() if not n.endswith("bias")] for m in model.nodes]
    rows = []
    for _ in range(steps):
        x, y = batches.next()
        loss_fn(plan.data.target, model(x), y).backward()
        before = [[p.detach().clone() for p in ps] for ps in layers]
        opt.step()
        opt.zero_grad()
        row = []
        for ps, bs in zip(layers, before, strict=True):
            if ps:
                moved = sum(
                    float((p.detach() - b).square().sum()) for p, b in zip(ps, bs, strict=True)
                )
                size = sum(float(b.square().sum()) for b in bs)
                row.append((moved / size) ** 0.5)
        rows.append(row)
    return rows


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_update_ratio_matches_a_replay(name: str) -> None:
    doc = {
        "model": {"type": "mlp", "depth": 3, "width": 12, "norm": "batch", "activation": "tanh"},
        "data": {"name": "teacher", "input_dim": 10, "classes": 4, "samples": 64},
        "train": {
            "steps": 3,
            "batch_size": 16,
            "device": "cpu",
            "precision": "fp64",
            "optimizer": OPTIMIZERS[name],
        },
        "probe": {"every": 1},
    }
    result = execute(doc)
    want = reference_ratios(doc, 3)
    for step in range(3):
        got = [v for v in result.metrics["update_ratio"][step] if v is not None]
        assert got == pytest.approx(want[step], rel=1e-6), (name, step)
    assert all(v is None for v in result.metrics["update_ratio"][3])


def test_which_optimizers_skip_the_weight_copy() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert state_gives_update(torch.optim.SGD(params, lr=0.1, momentum=0.9))
    assert state_gives_update(torch.optim.SGD(params, lr=0.1))
    assert not state_gives_update(torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True))
    assert not state_gives_update(torch.optim.SGD(params, lr=0.1, weight_decay=0.1))
    assert not state_gives_update(torch.optim.Adam(params))
