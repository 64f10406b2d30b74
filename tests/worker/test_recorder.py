"""The recorder calls each statistic only where it does something: per layer, the statistics
that observe that layer's output (a function two of them share, once), and at each hook
point the statistics that override it."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.recorder import Recorder
from worker.run import attach, prepare
from worker.stats import moments, relu
from worker.stats.act_grad_norm import ActGradNorm
from worker.stats.base import Probe

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}


def test_each_layer_gets_only_the_observers_that_apply(make_spec: Any) -> None:
    doc = make_spec({"type": "mlp", "depth": 2, "width": 8, "activation": "relu"}, TEACHER)
    doc["probe"] = {"activations": True}
    run = prepare(parse_spec(doc), Caps())
    stats = {s.name: s for s in attach(run, run.spec.probe)}
    rec = Recorder(run.model, list(stats.values()), [0], run.plan.data.target)
    ops = [stats["dead_frac"].table.ops[j] for j in range(len(run.model.names))]
    for layer, fns in enumerate(rec.observers):
        assert fns.count(moments.observe) == 1  # act_mean and act_std: one call
        assert (stats["dead_frac"].on_output in fns) == (ops[layer] == "activation")
        assert stats["saturated_frac"].on_output not in fns  # ReLU never saturates
        assert stats["weight_norm"].on_output not in fns  # taken after backward
    assert stats["loss"] not in rec.step_stats  # no after_step of its own
    assert stats["update_ratio"] in rec.step_stats
    assert stats["timestep_grad_norm"] not in rec.step_stats


def test_act_grad_norm_reads_a_pre_activation_at_its_activation(make_spec: Any) -> None:
    """An output whose only use is an activation computed by one autograd node gets no hook
    of its own: a hook on the activation's node takes both norms. One with another use (here
    the add), one feeding softsign (several nodes), and the network's output keep their own
    hooks. The values are checked against autograd in test_stats_reference.py."""
    nodes = [
        {"name": "l0", "op": "linear", "out_features": 8},
        {"name": "a0", "op": "activation", "fn": "relu"},
        {"name": "l1", "op": "linear", "out_features": 8},
        {"name": "a1", "op": "activation", "fn": "tanh"},
        {"name": "s", "op": "add", "inputs": ["l1", "a1"]},
        {"name": "l2", "op": "linear", "out_features": 8},
        {"name": "a2", "op": "activation", "fn": "softsign"},
        {"name": "l3", "op": "linear", "out_features": 8},
        {"name": "a3", "op": "activation", "fn": "gelu"},
        {"name": "out", "op": "linear", "out_features": 3},
    ]
    doc = make_spec({"type": "graph", "nodes": nodes}, TEACHER)
    run = prepare(parse_spec(doc), Caps())
    stat = next(s for s in attach(run, run.spec.probe) if isinstance(s, ActGradNorm))
    index = {name: j for j, name in enumerate(run.model.names)}
    through = {run.model.names[k]: run.model.names[j] for k, j in stat.through.items()}
    assert through == {"a0": "l0", "a3": "l3"}
    assert stat.derived == {index["l0"], index["l3"]}


@pytest.mark.parametrize("precision", ["fp64", "fp32"])
def test_a_relu_output_is_read_through_its_input(
    make_spec: Any, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    """Each ReLU's moments and dead units come from the one pass over its input: the ReLU's
    own output is never read (values against autograd: test_stats_reference.py). In fp32 a
    pair's input is read by address, everything else through its NumPy view."""
    nodes = [
        {"name": "l0", "op": "linear", "out_features": 8},
        {"name": "a0", "op": "activation", "fn": "relu"},
        {"name": "a1", "op": "activation", "fn": "relu"},  # a ReLU of a ReLU
        {"name": "l1", "op": "linear", "out_features": 8},
        {"name": "a2", "op": "activation", "fn": "tanh"},
        {"name": "out", "op": "linear", "out_features": 3},
    ]
    doc = make_spec({"type": "graph", "nodes": nodes}, TEACHER, precision=precision)
    doc["probe"] = {"activations": True}
    run = prepare(parse_spec(doc), Caps())
    stats = attach(run, run.spec.probe)
    rec = Recorder(run.model, stats, [0], run.plan.data.target)
    names = run.model.names
    assert {names[k]: names[j] for k, j in rec.relu_inputs.items()} == {"a0": "l0", "a1": "a0"}
    read: list[str] = []
    by_address: list[str] = []
    real_view, real_at = Probe.host_array, relu.relu_sums_at

    def named(probe: Probe, found: Any) -> str:
        return names[next(j for j, o in enumerate(probe.outs) if found(o))]

    def view_spy(probe: Probe, out: Tensor) -> Any:
        if out is not probe._viewed:
            read.append(named(probe, lambda o: o is out))
        return real_view(probe, out)

    def address_spy(address: int, rows: int, columns: int) -> Any:
        probe = rec.probe
        assert probe is not None
        by_address.append(named(probe, lambda o: o.data_ptr() == address))
        read.append(by_address[-1])
        return real_at(address, rows, columns)

    monkeypatch.setattr(Probe, "host_array", view_spy)
    monkeypatch.setattr(relu, "relu_sums_at", address_spy)
    x, _ = run.batches.next()
    run.model(x)
    assert read == ["l0", "a0", "l1", "a2", "out"]  # a0 once, as a1's input; a1 never
    assert by_address == (["l0", "a0"] if precision == "fp32" else [])
    probe = rec.probe
    assert probe is not None
    assert probe.outs == [] and probe._viewed is None  # backward may free them
    readings = probe.scratch["relu/readings"]
    assert sorted(names[j] for j in readings) == ["a0", "l0"]
    host = probe.scratch[moments.HOST]
    through = moments.from_sums(*readings[names.index("l0")].y)
    assert host[names.index("a0")] == through  # through its input
    assert host[names.index("a1")] == moments.from_sums(*readings[names.index("a0")].y)
    counts = probe.scratch["count/dead_frac"]
    assert counts[names.index("a1")] == (readings[names.index("a0")].dead, 8)


def test_two_relus_of_one_input_both_read_through_it(make_spec: Any) -> None:
    """Both ReLUs of one output get the moments and dead units of the one pass over it."""
    nodes = [
        {"name": "l0", "op": "linear", "out_features": 8},
        {"name": "a0", "op": "activation", "fn": "relu"},
        {"name": "a1", "op": "activation", "fn": "relu", "inputs": ["l0"]},
        {"name": "s", "op": "add", "inputs": ["a0", "a1"]},
        {"name": "out", "op": "linear", "out_features": 3},
    ]
    doc = make_spec({"type": "graph", "nodes": nodes}, TEACHER)
    doc["probe"] = {"activations": True}
    run = prepare(parse_spec(doc), Caps())
    rec = Recorder(run.model, attach(run, run.spec.probe), [0], run.plan.data.target)
    names = run.model.names
    x, _ = run.batches.next()
    run.model(x)
    probe = rec.probe
    assert probe is not None
    pair = probe.scratch["relu/readings"][names.index("l0")]
    host = probe.scratch[moments.HOST]
    assert host[names.index("l0")] == moments.from_sums(*pair.z)
    assert host[names.index("a0")] == host[names.index("a1")] == moments.from_sums(*pair.y)
    counts = probe.scratch["count/dead_frac"]
    assert counts[names.index("a0")] == counts[names.index("a1")] == (pair.dead, 8)
    y = torch.relu(run.model.nodes[0](x)).detach().double()
    shift, total, _, n = pair.y
    assert shift + total / n == pytest.approx(float(y.mean()), rel=1e-12)
    assert pair.dead == int((y.amax(dim=0) <= 0).sum())
