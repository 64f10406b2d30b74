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

EVERY_ACTIVATION = [
    "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid", "softsign"
]  # fmt: skip
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
    "graph_every_activation": (  # sigma_b large: units both dead and saturated
        {
            "type": "graph",
            "init": {"scheme": "normal", "sigma_w": 1.0, "sigma_b": 4.0},
            "nodes": [
                node
                for k, fn in enumerate(EVERY_ACTIVATION)
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


def sqrt_sum_squares(tensors: list[Tensor]) -> float:
    """sqrt(sum of squares) over all elements, accumulated in float64 one tensor at a time."""
    total = 0.0
    for t in tensors:
        total += float((t.detach().double() ** 2).sum())
    return math.sqrt(total)


def log_histogram(values: Tensor, low: int = -40, high: int = 5) -> tuple[list[int], int]:
    """Counts of floor(log10 |v|) in one-decade bins [low, high) (clamped into the end bins),
    and the count of exact zeros, by numpy."""
    a = np.abs(values.detach().double().numpy().reshape(-1))
    nz = a[a != 0]
    k = np.clip(np.floor(np.log10(nz)).astype(np.int64) - low, 0, high - low - 1)
    return np.bincount(k, minlength=high - low).tolist(), int((a == 0).sum())


def assert_row(got: list[float | None], want: list[float | None], what: str) -> None:
    """Same null pattern; every present value close to the reference."""
    assert [v is None for v in got] == [v is None for v in want], (what, got, want)
    for j, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is not None:
            assert g == pytest.approx(w, rel=RTOL, abs=ATOL), (what, j, g, w)


def relative_derivative(ref: Ref, j: int) -> Tensor:
    """f'(z) / max f' elementwise for activation node j, by autograd from its input z."""
    layer = ref.plan.layers[j]
    src = [la.name for la in ref.plan.layers].index(layer.inputs[0])
    z = ref.outs[src].detach().clone().requires_grad_(True)
    y = FUNCTIONS[layer.node.fn](z)
    torch.testing.assert_close(y.detach(), ref.outs[j].detach(), rtol=0, atol=0)
    (d,) = torch.autograd.grad(y.sum(), z)
    return d / PEAK[layer.node.fn]


def layer_stats(ref: Ref, j: int) -> dict[str, float | None]:
    """Every per-layer statistic of node j at the reference's current step, by definition."""
    row: dict[str, float | None] = dict.fromkeys(
        ("weight_grad_norm", "weight_grad_mean_abs", "weight_norm", "bias_grad_norm")
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
    grad = ref.act_grads[j]
    row["act_grad_norm"] = None if grad is None else sqrt_sum_squares([grad])
    out = ref.outs[j].detach().double()
    mean = float(out.sum()) / out.numel()
    row["act_mean"] = mean
    row["act_std"] = math.sqrt(float(((out - mean) ** 2).sum()) / out.numel())  # population
    fn = getattr(ref.plan.layers[j].node, "fn", None)
    row["saturated_frac"] = row["dead_frac"] = None
    if fn in SATURATING:  # over every element of the batch
        row["saturated_frac"] = float((relative_derivative(ref, j) < 0.02).double().mean())
    if fn in RECTIFYING:  # a unit is one element of the per-example output, dead on all examples
        low = relative_derivative(ref, j) < 0.02
        row["dead_frac"] = float(low.all(dim=0).double().mean())
    return row


def check_layers(result: Result, ref: Ref, i: int) -> None:
    per_layer = [layer_stats(ref, j) for j in range(ref.n)]
    for name in per_layer[0]:
        assert_row(result.metrics[name][i], [s[name] for s in per_layer], name)


def check_scalars(result: Result, ref: Ref, i: int) -> None:
    assert result.loss[i] == pytest.approx(float(ref.loss.detach()), rel=RTOL)
    if ref.plan.data.target in ("class", "step_class"):
        assert result.accuracy is not None
        acc = float((ref.output.argmax(-1) == ref.y).double().mean())
        assert result.accuracy[i] == pytest.approx(acc, rel=RTOL)  # k/n, kept in float32
    else:
        assert result.accuracy is None


def check_histograms(result: Result, ref: Ref, i: int) -> None:
    h = result.histograms
    assert h is not None
    assert h.edges == [float(e) for e in range(-40, 6)]
    for j in range(ref.n):
        name = ref.plan.layers[j].name
        if not ref.weights(j):
            assert h.counts[i][j] is None and h.zeros[i][j] is None, name
            continue
        grads = torch.cat([g.reshape(-1) for g in ref.weight_grads[j]])
        counts, zeros = log_histogram(grads)
        assert (h.counts[i][j], h.zeros[i][j]) == (counts, zeros), name
        assert sum(counts) + zeros == grads.numel()


def doc_for(make_spec: Callable[..., dict[str, Any]], case: str, **over: Any) -> dict[str, Any]:
    model, data, kwargs = CASES[case]
    return make_spec(model, data, **{**kwargs, **over})


@pytest.mark.parametrize("case", list(CASES))
def test_statistics_at_init_match_autograd(
    case: str, make_spec: Callable[..., dict[str, Any]], reference: Callable[..., Ref]
) -> None:
    doc = doc_for(make_spec, case)
    result = execute(doc)
    ref = reference(doc)
    assert result.precision == "fp64"
    assert result.steps == [0]
    assert [la.name for la in result.layers] == [la.name for la in ref.plan.layers]
    assert set(result.metrics) == {*layer_stats(ref, 0), "update_ratio"}
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)
    check_histograms(result, ref, 0)
    # steps: 0 probes the network once, before any update: there is no update to measure
    assert result.metrics["update_ratio"] == [[None] * ref.n]


@pytest.mark.parametrize(
    "case", ["graph_every_activation", "cnn_residual_batchnorm", "lstm_two_layers"]
)
def test_accelerator_paths_match_autograd_too(
    case: str,
    make_spec: Callable[..., dict[str, Any]],
    reference: Callable[..., Ref],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the CPU, norms, moments and unit counts read host memory (BLAS, NumPy); on an
    accelerator they are torch ops with no host read. Forced onto the CPU here, the
    accelerator's paths must match the reference as well."""
    for module in ("norms", "base", "accuracy"):
        monkeypatch.setattr(f"worker.stats.{module}.is_host", lambda t: False)
    doc = doc_for(make_spec, case)
    result = execute(doc)
    ref = reference(doc)
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)


def test_activation_fractions_are_exercised(make_spec: Callable[..., dict[str, Any]]) -> None:
    """The every-activation graph really has saturated and dead units, so the comparison
    above checks fractions strictly between 0 and 1, not zeros against zeros."""
    result = execute(doc_for(make_spec, "graph_every_activation", histograms=False))
    sat = [v for v in result.metrics["saturated_frac"][0] if v is not None]
    dead = [v for v in result.metrics["dead_frac"][0] if v is not None]
    assert len(sat) == 3 and len(dead) == 4
    assert all(0 < v < 1 for v in sat + dead), (sat, dead)


@pytest.mark.parametrize("case", ["lstm_two_layers", "rnn_tanh", "gru"])
def test_timestep_grad_norm_matches_autograd(
    case: str, make_spec: Callable[..., dict[str, Any]], reference: Callable[..., Ref]
) -> None:
    """||dL/dh_t|| of the top layer of the recurrent node: the full gradient (through the
    recurrence and the read-out) at every step t."""
    doc = doc_for(make_spec, case, histograms=False)
    result = execute(doc)
    ref = reference(doc)
    want = [0.0 if g is None else sqrt_sum_squares([g]) for g in ref.state_grads]
    ts = result.timesteps
    assert ts is not None
    assert ts.layer == "rnn" and ts.steps == [0]
    assert len(ts.grad_norm[0]) == doc["data"]["length"]
    assert ts.grad_norm[0] == pytest.approx(want, rel=RTOL, abs=ATOL)
    assert all(v > 0 for v in ts.grad_norm[0])  # the read-out at T reaches every step


def optimizer_step(ref: Ref, opt: dict[str, Any]) -> None:
    """The update of step 0, done here: plain SGD by hand, Adam with torch.optim."""
    params = [p for j in range(ref.n) for p in ref.params(j)]
    grads = [g for w, b in zip(ref.weight_grads, ref.bias_grads, strict=True) for g in (*w, *b)]
    assert len(params) == len(grads) == len(list(ref.model.parameters()))
    if opt["name"] == "sgd":
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(opt["lr"] * g)
        return
    adam = torch.optim.Adam(params, lr=opt["lr"])
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    adam.step()


UPDATE_CASES = {
    "sgd_mlp": ({"name": "sgd", "lr": 0.1, "momentum": 0.0}, "mlp_batchnorm_tanh"),
    "adam_cnn": ({"name": "adam", "lr": 0.01}, "cnn_residual_batchnorm"),
    "sgd_lstm": ({"name": "sgd", "lr": 0.5, "momentum": 0.0}, "lstm_two_layers"),
}


@pytest.mark.parametrize("name", list(UPDATE_CASES))
def test_update_ratio_and_next_probe_match(
    name: str, make_spec: Callable[..., dict[str, Any]], reference: Callable[..., Ref]
) -> None:
    """update_ratio = ||W_after - W_before|| / ||W_before|| for the step-0 update; the probe
    at step 1 sees the updated network on the second batch, and has no update_ratio."""
    opt, case = UPDATE_CASES[name]
    doc = doc_for(make_spec, case, steps=1, optimizer=opt)
    result = execute(doc)
    assert result.steps == [0, 1]
    ref = reference(doc)
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)

    before = [[p.detach().clone() for p in ref.weights(j)] for j in range(ref.n)]
    optimizer_step(ref, opt)
    ratio: list[float | None] = [None] * ref.n
    for j in range(ref.n):
        if not before[j]:
            continue
        moved = [a.detach() - b for a, b in zip(ref.weights(j), before[j], strict=True)]
        ratio[j] = sqrt_sum_squares(moved) / sqrt_sum_squares(before[j])
        if opt["name"] == "sgd":  # plain SGD moves W by exactly -lr * g
            plain = opt["lr"] * sqrt_sum_squares(ref.weight_grads[j])
            assert ratio[j] == pytest.approx(plain / sqrt_sum_squares(before[j]), rel=1e-9)
    assert_row(result.metrics["update_ratio"][0], ratio, "update_ratio")
    assert all(r is None or r > 0 for r in ratio)
    assert result.metrics["update_ratio"][1] == [None] * ref.n  # the final network

    ref.step()  # step 1: the updated network, on the second batch
    check_scalars(result, ref, 1)
    check_layers(result, ref, 1)
    check_histograms(result, ref, 1)


def test_fp64_loss_is_float64(
    make_spec: Callable[..., dict[str, Any]], reference: Callable[..., Ref]
) -> None:
    """In fp64 the loss, and so every gradient, is computed in float64: it matches a float64
    reference far below float32's resolution (~6e-8)."""
    doc = doc_for(make_spec, "mlp_batchnorm_tanh", histograms=False)
    result = execute(doc)
    ref = reference(doc)
    assert result.loss[0] == pytest.approx(float(ref.loss.detach()), rel=1e-12)
    j = result.layer_index("out.linear")
    want = sqrt_sum_squares(ref.weight_grads[j])
    assert result.metrics["weight_grad_norm"][0][j] == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("case", ["graph_every_activation", "cnn_residual_batchnorm"])
def test_float32_host_paths_match_autograd(
    case: str, make_spec: Callable[..., dict[str, Any]], reference: Callable[..., Ref]
) -> None:
    """In fp32 the CPU paths read float32 memory with the compiled kernels (float64 sums);
    the reference, on the same float32 tensors, sums in float64 by definition."""
    doc = doc_for(make_spec, case, precision="fp32")
    result = execute(doc)
    ref = reference(doc)
    assert result.precision == "fp32"
    check_scalars(result, ref, 0)
    check_layers(result, ref, 0)
