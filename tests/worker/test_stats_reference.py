"""Every statistic of a run equals an independent autograd computation, in float64.

Each case runs `execute` in fp64 on the CPU, then rebuilds the same network and the same
first batch outside the engine (tests/worker/conftest.py) and recomputes every statistic
from its definition: a plain loop over parameters, `torch.autograd.grad` for dL/dh, and
activation derivatives taken by autograd from each activation's own input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.nn import functional as F

from gradprobe.result import Result
from worker.run import execute

Ref = Any  # conftest.Reference (conftest is not imported: its module name is not unique)

RTOL = 1e-6
ATOL = 1e-12  # for quantities that are 0 in exact arithmetic (a bias before a norm, ...)

TEACHER = {"name": "teacher", "input_dim": 6, "classes": 3, "samples": 64, "teacher_width": 8}

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "mlp_batchnorm_tanh": (
        {"type": "mlp", "depth": 3, "width": 8, "norm": "batch", "activation": "tanh"},
        TEACHER,
        {},
    ),
    "mlp_residual_rms_selu": (
        {
            "type": "mlp",
            "depth": 4,
            "width": 8,
            "norm": "rms",
            "norm_position": "after",
            "activation": "selu",
            "residual": True,
            "init": {"scheme": "normal", "sigma_w": 1.5, "sigma_b": 0.5},
        },
        TEACHER,
        {},
    ),
    "graph_every_activation": (
        {
            "type": "graph",
            "init": {"scheme": "normal", "sigma_w": 2.0, "sigma_b": 1.5},
            "nodes": [
                node
                for k, fn in enumerate(
                    [
                        "relu",
                        "leaky_relu",
                        "elu",
                        "selu",
                        "gelu",
                        "silu",
                        "tanh",
                        "sigmoid",
                        "softsign",
                    ]
                )
                for node in (
                    {"name": f"l{k}", "op": "linear", "out_features": 8},
                    {"name": f"a{k}", "op": "activation", "fn": fn},
                )
            ]
            + [{"name": "out", "op": "linear", "out_features": 3}],
        },
        TEACHER,
        {"batch_size": 8},
    ),
    "cnn_residual_batchnorm": (
        {
            "type": "cnn",
            "channels": [4, 6],
            "blocks": 1,
            "residual": True,
            "norm": "batch",
            "activation": "relu",
        },
        {"name": "digits"},
        {"batch_size": 8},
    ),
    "unet_groupnorm_denoise": (
        {"type": "unet", "levels": 1, "base_channels": 2, "convs": 1, "norm": "layer"},
        {"name": "digits", "task": "denoise"},
        {"batch_size": 4},
    ),
    "lstm_two_layers": (
        {"type": "rnn", "cell": "lstm", "hidden": 6, "layers": 2},
        {"name": "adding", "length": 5, "samples": 64},
        {"batch_size": 8},
    ),
    "rnn_tanh": (
        {"type": "rnn", "cell": "tanh", "hidden": 6},
        {"name": "adding", "length": 6, "samples": 64},
        {"batch_size": 8},
    ),
    "gru": (
        {"type": "rnn", "cell": "gru", "hidden": 5},
        {"name": "adding", "length": 4, "samples": 64},
        {"batch_size": 8},
    ),
    "transformer_pre_causal": (
        {
            "type": "transformer",
            "layers": 1,
            "d_model": 8,
            "heads": 2,
            "ff_mult": 2,
            "causal": True,
        },
        {"name": "copy", "length": 2, "copy_len": 2, "alphabet": 3, "samples": 64},
        {"batch_size": 4},
    ),
    "transformer_post": (
        {
            "type": "transformer",
            "layers": 2,
            "d_model": 8,
            "heads": 2,
            "ff_mult": 1,
            "norm_position": "post",
            "activation": "relu",
        },
        {"name": "teacher", "input_shape": [4, 3], "classes": 3, "samples": 64},
        {"batch_size": 4},
    ),
}

# Each activation's derivative, and the peak of that derivative (the 2% thresholds of
# saturated_frac / dead_frac are relative to it).
FUNCTIONS = {
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "selu": F.selu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softsign": F.softsign,
}
PEAK = {
    "relu": 1.0,
    "leaky_relu": 1.0,
    "elu": 1.0,
    "selu": 1.0507009873554805 * 1.6732632423543772,  # lambda * alpha, at z -> 0-
    "tanh": 1.0,
    "sigmoid": 0.25,
    "softsign": 1.0,
}
SATURATING = {"tanh", "sigmoid", "softsign"}
RECTIFYING = {"relu", "leaky_relu", "elu", "selu"}  # gelu/silu: not monotone, no dead_frac


def relative_derivative(ref: Reference, j: int) -> torch.Tensor:
    """f'(z) / max f' elementwise for activation node j, by autograd from its input z."""
    layer = ref.plan.layers[j]
    src = [la.name for la in ref.plan.layers].index(layer.inputs[0])
    z = ref.outs[src].detach().clone().requires_grad_(True)
    fn = FUNCTIONS[layer.node.fn]
    y = fn(z)
    torch.testing.assert_close(y.detach(), ref.outs[j].detach(), rtol=0, atol=0)
    (d,) = torch.autograd.grad(y.sum(), z)
    return d / PEAK[layer.node.fn]


def layer_stats(ref: Reference, j: int) -> dict[str, float | None]:
    """Every per-layer statistic of node j at the reference's last step, by definition."""
    row: dict[str, float | None] = dict.fromkeys(
        (
            "weight_grad_norm",
            "weight_grad_mean_abs",
            "weight_norm",
            "bias_grad_norm",
            "act_grad_norm",
            "saturated_frac",
            "dead_frac",
        )
    )
    weights, biases = ref.weights(j), ref.biases(j)
    if weights:
        grads = ref.weight_grads[j]
        row["weight_grad_norm"] = sqrt_sum_squares(grads)
        l1 = sum(float(g.double().abs().sum()) for g in grads)
        row["weight_grad_mean_abs"] = l1 / sum(p.numel() for p in weights)
        row["weight_norm"] = sqrt_sum_squares(weights)
    if biases:
        row["bias_grad_norm"] = sqrt_sum_squares(ref.bias_grads[j])
    out = ref.outs[j].detach().double()
    mean = float(out.sum()) / out.numel()
    row["act_mean"] = mean
    row["act_std"] = math.sqrt(float(((out - mean) ** 2).sum()) / out.numel())  # population
    grad = ref.act_grads[j]
    row["act_grad_norm"] = None if grad is None else sqrt_sum_squares([grad])
    fn = getattr(ref.plan.layers[j].node, "fn", None)
    if fn in SATURATING:
        row["saturated_frac"] = float((relative_derivative(ref, j) < 0.02).double().mean())
    if fn in RECTIFYING:
        low = relative_derivative(ref, j) < 0.02
        row["dead_frac"] = float(low.all(dim=0).double().mean())  # a unit: all but the batch axis
    return row


def expected_rows(ref: Reference) -> dict[str, list[float | None]]:
    per_layer = [layer_stats(ref, j) for j in range(ref.n)]
    return {name: [s[name] for s in per_layer] for name in per_layer[0]}


def check_scalars(result: Result, ref: Reference, i: int) -> None:
    assert ref.loss is not None and ref.output is not None and ref.y is not None
    assert result.loss[i] == pytest.approx(float(ref.loss), rel=RTOL)
    if ref.plan.data.target in ("class", "step_class"):
        assert result.accuracy is not None
        acc = float((ref.output.argmax(-1) == ref.y).double().mean())
        assert result.accuracy[i] == pytest.approx(acc, abs=1e-12)
    else:
        assert result.accuracy is None


def check_layers(result: Result, ref: Reference, i: int) -> None:
    for name, want in expected_rows(ref).items():
        assert_row(result.metrics[name][i], want, rtol=RTOL, atol=ATOL, what=name)


def check_histograms(result: Result, ref: Reference, i: int) -> None:
    h = result.histograms
    assert h is not None
    assert h.edges == [float(e) for e in range(-40, 6)]
    for j in range(ref.n):
        grads = ref.weight_grads[j]
        if not grads:
            assert h.counts[i][j] is None and h.zeros[i][j] is None
            continue
        counts, zeros = log_histogram(torch.cat([g.reshape(-1) for g in grads]))
        assert h.counts[i][j] == counts, ref.plan.layers[j].name
        assert h.zeros[i][j] == zeros, ref.plan.layers[j].name
        assert sum(counts) + zeros == sum(p.numel() for p in ref.weights(j))


@pytest.mark.parametrize("case", list(CASES))
def test_statistics_at_init_match_autograd(case: str) -> None:
    doc = CASES[case]
    result = execute(doc)
    ref = reference(doc)
    assert result.precision == "fp64"
    assert result.steps == [0]
    assert [la.name for la in result.layers] == [la.name for la in ref.plan.layers]
    assert len(ref.outs) == ref.n
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)
    check_histograms(result, ref, 0)
    # steps: 0 probes the network once, before any update: there is no update to measure
    assert result.metrics["update_ratio"] == [[None] * ref.n]


def test_activation_fractions_are_exercised() -> None:
    """The every-activation graph really has saturated and dead units, so the comparison
    above checks non-trivial fractions, not zeros against zeros."""
    result = execute(CASES["graph_every_activation"])
    sat = [v for v in result.metrics["saturated_frac"][0] if v is not None]
    dead = [v for v in result.metrics["dead_frac"][0] if v is not None]
    assert len(sat) == 3 and len(dead) == 4
    assert any(0 < v < 1 for v in sat)
    assert any(0 < v < 1 for v in dead)


@pytest.mark.parametrize("case", ["lstm_two_layers", "rnn_tanh", "gru"])
def test_timestep_grad_norm_matches_autograd(case: str) -> None:
    """||dL/dh_t|| of the top layer of the recurrent node, the full gradient (through the
    recurrence and the read-out) at every step t."""
    doc = CASES[case]
    result = execute(doc)
    ref = reference(doc)
    assert ref.state_grads is not None
    want = [
        0.0 if g is None else sqrt_sum_squares([g]) for g in ref.state_grads
    ]  # a step no gradient reaches has norm 0
    ts = result.timesteps
    assert ts is not None
    assert ts.layer == "rnn" and ts.steps == [0]
    assert len(ts.grad_norm[0]) == doc["data"]["length"]
    assert ts.grad_norm[0] == pytest.approx(want, rel=RTOL, abs=ATOL)
    assert all(v > 0 for v in ts.grad_norm[0])  # every step matters to the adding task
    j = result.layer_index("rnn")
    assert (
        [row[j] for row in result.metrics["timestep_grad_norm"]]
        if ("timestep_grad_norm" in result.metrics)
        else True
    )


def optimizer_step(ref: Reference, opt: dict[str, Any]) -> None:
    """The update of step 0, done here: plain SGD by hand, Adam by torch.optim."""
    params = [p for m in ref.model.nodes for p in m.parameters()]
    grads = [g for w, b in zip(ref.weight_grads, ref.bias_grads, strict=True) for g in (*w, *b)]
    by_node = [p for m in ref.model.nodes for p in (*ref.weights_of(m), *ref.biases_of(m))]
    assert len(by_node) == len(params) == len(grads)
    if opt["name"] == "sgd":
        with torch.no_grad():
            for p, g in zip(by_node, grads, strict=True):
                p.sub_(opt["lr"] * g)
        return
    adam = torch.optim.Adam(by_node, lr=opt["lr"])
    for p, g in zip(by_node, grads, strict=True):
        p.grad = g.clone()
    adam.step()


UPDATE_CASES = {
    "sgd": ({"name": "sgd", "lr": 0.1, "momentum": 0.0}, "mlp_batchnorm_tanh"),
    "adam": ({"name": "adam", "lr": 0.01}, "cnn_residual_batchnorm"),
    "sgd_lstm": ({"name": "sgd", "lr": 0.5, "momentum": 0.0}, "lstm_two_layers"),
}


@pytest.mark.parametrize("name", list(UPDATE_CASES))
def test_update_ratio_and_next_probe_match(name: str) -> None:
    """update_ratio = ||W_after - W_before|| / ||W_before|| of the step-0 update, and the
    probe at step 1 sees the updated network on the second batch."""
    opt, case = UPDATE_CASES[name]
    doc = {**CASES[case], "train": {**CASES[case]["train"], "steps": 1, "optimizer": opt}}
    result = execute(doc)
    assert result.steps == [0, 1]
    ref = reference(doc)
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)

    before = [[p.detach().clone() for p in ref.weights(j)] for j in range(ref.n)]
    optimizer_step(ref, opt)
    ratio: list[float | None] = [None] * ref.n
    for j in range(ref.n):
        if before[j]:
            moved = [a.detach() - b for a, b in zip(ref.weights(j), before[j], strict=True)]
            ratio[j] = sqrt_sum_squares(moved) / sqrt_sum_squares(before[j])
            if opt["name"] == "sgd":  # plain SGD moves W by exactly -lr * g
                plain = opt["lr"] * sqrt_sum_squares(ref.weight_grads[j])
                assert ratio[j] == pytest.approx(plain / sqrt_sum_squares(before[j]), rel=1e-9)
    assert_row(result.metrics["update_ratio"][0], ratio, rtol=RTOL, what="update_ratio")
    assert any(r is not None and r > 0 for r in ratio)
    # the last probe is the final network: no update follows it
    assert result.metrics["update_ratio"][1] == [None] * ref.n

    ref.step()  # step 1: the updated network on the second batch
    check_scalars(result, ref, 1)
    check_layers(result, ref, 1)
    check_histograms(result, ref, 1)


def test_fp64_loss_is_float64() -> None:
    """In fp64 the loss (and so every gradient) is computed in float64: it matches a float64
    reference far below float32's resolution (~6e-8)."""
    doc = CASES["mlp_batchnorm_tanh"]
    result = execute(doc)
    ref = reference(doc)
    assert result.loss[0] == pytest.approx(float(ref.loss), rel=1e-12)
    j = result.layer_index("out.linear")
    want = sqrt_sum_squares(ref.weight_grads[j])
    assert result.metrics["weight_grad_norm"][0][j] == pytest.approx(want, rel=1e-10)
