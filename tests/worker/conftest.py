"""Shared fixtures for the engine tests: `make_spec` (a small CPU job document) and
`reference` (an independent re-run of a spec's first probed step, same model and same first
batch, with plain autograd).

The reference never touches `worker.stats`: it rebuilds the network exactly as `execute`
does (`torch.manual_seed(seed)`, `build`, `load`, one `.next()`), captures every node's
output through `GraphNet.observer`, and takes dL/dh and dL/dparam with `torch.autograd.grad`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.nn import functional as F

from gradprobe.plan import Plan, parse_spec
from gradprobe.spec import Caps, JobSpec
from worker.builder import GraphNet
from worker.data import Batches
from worker.ops import UnrolledRNN
from worker.run import prepare

CPU = torch.device("cpu")


def build_spec(
    model: dict[str, Any],
    data: dict[str, Any],
    *,
    steps: int = 0,
    batch_size: int = 16,
    seed: int = 0,
    precision: str = "fp64",
    optimizer: dict[str, Any] | None = None,
    every: int = 1,
    histograms: bool = True,
    activations: bool = True,
    timesteps: bool = True,
) -> dict[str, Any]:
    """A job document for a short CPU run, probed at every step."""
    return {
        "model": model,
        "data": data,
        "train": {
            "steps": steps,
            "batch_size": batch_size,
            "seed": seed,
            "precision": precision,
            "device": "cpu",
            "optimizer": optimizer or {"name": "sgd", "lr": 0.1, "momentum": 0.0},
        },
        "probe": {
            "every": every,
            "histograms": histograms,
            "activations": activations,
            "timesteps": timesteps,
        },
    }


def ref_loss(kind: str, output: Tensor, target: Tensor) -> Tensor:
    """The loss written out here (not worker.losses), in the output's own dtype."""
    if kind == "class":
        return F.cross_entropy(output, target)
    if kind == "step_class":
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))
    return ((output - target) ** 2).mean()


def split_params(module: torch.nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """(weights, biases) of one node: a bias is a parameter named '*bias' or '*bias_*'."""
    weights: list[Tensor] = []
    biases: list[Tensor] = []
    for name, p in module.named_parameters():
        (biases if name.endswith("bias") or "bias_" in name else weights).append(p)
    return weights, biases


@dataclass
class Reference:
    """One forward/backward of the spec's network on a batch, outside the engine."""

    spec: JobSpec
    plan: Plan
    model: GraphNet
    batches: Batches
    dtype: torch.dtype
    x: Tensor | None = None
    y: Tensor | None = None
    outs: list[Tensor] = field(default_factory=list)
    output: Tensor | None = None
    loss: Tensor | None = None
    act_grads: list[Tensor | None] = field(default_factory=list)
    weight_grads: list[list[Tensor]] = field(default_factory=list)
    bias_grads: list[list[Tensor]] = field(default_factory=list)
    state_grads: list[Tensor] | None = None

    @property
    def n(self) -> int:
        return len(self.plan.layers)

    def params(self, j: int) -> list[Tensor]:
        """Node j's parameters, weights first, in the order of weight_grads + bias_grads."""
        return [*self.weights(j), *self.biases(j)]

    def weights(self, j: int) -> list[Tensor]:
        return split_params(self.model.nodes[j])[0]

    def biases(self, j: int) -> list[Tensor]:
        return split_params(self.model.nodes[j])[1]

    def step(self) -> None:
        """Forward and backward on the next batch; fills every gradient by autograd.grad."""
        self.x, self.y = self.batches.next()
        outs: list[Tensor] = []
        self.model.observer = outs.extend  # every node's output, in order
        rnns = [m for m in self.model.nodes if isinstance(m, UnrolledRNN)]
        if rnns:
            rnns[-1].keep_states = True
        self.output = self.model(self.x)
        self.model.observer = None
        self.outs = outs
        self.loss = ref_loss(self.plan.data.target, self.output, self.y)

        tracked = [o for o in outs if o.requires_grad]
        params = [list(split_params(m)) for m in self.model.nodes]
        flat = [p for w, b in params for p in (*w, *b)]
        states = list(rnns[-1].states) if rnns else []
        grads = torch.autograd.grad(
            self.loss, [*tracked, *flat, *states], allow_unused=True, retain_graph=False
        )
        it = iter(grads)
        tracked_grads = [next(it) for _ in tracked]
        by_id = dict(zip([id(o) for o in tracked], tracked_grads, strict=True))
        self.act_grads = [by_id.get(id(o)) if o.requires_grad else None for o in outs]

        def grad_of(p: Tensor) -> Tensor:
            g = next(it)
            return torch.zeros_like(p) if g is None else g

        self.weight_grads, self.bias_grads = [], []
        for w, b in params:
            self.weight_grads.append([grad_of(p) for p in w])
            self.bias_grads.append([grad_of(p) for p in b])
        self.state_grads = [next(it) for _ in states] if rnns else None


def run_reference(doc: dict[str, Any]) -> Reference:
    """Rebuild `doc`'s model and data exactly as worker.run.execute does, and run the first
    step. The model and batch stream are left in place for further steps."""
    spec = parse_spec({**doc, "train": {**doc.get("train", {}), "device": "cpu"}})
    run = prepare(spec, Caps())
    model, batches, dtype = run.model, run.batches, run.batches.x.dtype
    model.train()
    ref = Reference(spec, run.plan, model, batches, dtype)
    ref.step()
    return ref


@pytest.fixture
def make_spec() -> Callable[..., dict[str, Any]]:
    return build_spec


@pytest.fixture
def reference() -> Callable[[dict[str, Any]], Reference]:
    return run_reference
