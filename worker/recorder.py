"""Attaches the selected statistics to the training loop and collects what they put.

The recorder is the loop's `Hooks`. It arms the forward observer the step before a probe,
runs the statistics at the two hook points of a probed step, then copies every value the
probe produced to the host in one transfer. Unprobed steps cost one list append (the loss
tensor, kept so the first non-finite step is known exactly) and one cancel check.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from worker.builder import GraphNet
from worker.stats.base import Probe, Statistic, StepContext, Vector
from worker.stats.norms import is_host
from worker.stats.relu import relu_inputs

ProgressFn = Callable[[int, float | None], None]  # (step, loss) at each probe
ObserveFn = Callable[[Probe, int, Tensor], None]


@dataclass
class Recording:
    steps: list[int] = field(default_factory=list)
    layer: dict[str, list[list[float | None]]] = field(default_factory=lambda: defaultdict(list))
    vectors: dict[str, list[list[list[float] | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    scalar: dict[str, list[float | None]] = field(default_factory=lambda: defaultdict(list))
    first_nonfinite_step: int | None = None
    probe_seconds: float = 0.0


def observers(stats: list[Statistic], layer: int) -> list[ObserveFn]:
    """What sees this layer's output: each statistic that observes it, and a function two
    statistics share (act_mean and act_std take the same moments) once."""
    fns: list[ObserveFn] = []
    for s in stats:
        if s.observes(layer) and s.on_output not in fns:
            fns.append(s.on_output)
    return fns


def overriding(stats: list[Statistic], hook: str) -> list[Statistic]:
    """The statistics that do something at this hook point (the base class's is a no-op)."""
    return [s for s in stats if getattr(type(s), hook) is not getattr(Statistic, hook)]


def any_nonfinite(rows: Iterable[list[float | None]]) -> bool:
    return any(not math.isfinite(v) for row in rows for v in row if v is not None)


class Recorder:
    max_pending = 4096  # losses kept between probes before they are checked anyway

    def __init__(
        self,
        model: GraphNet,
        stats: list[Statistic],
        schedule: list[int],
        target_kind: str,
        progress: ProgressFn | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.model, self.stats, self.target_kind = model, stats, target_kind
        self.schedule = set(schedule)
        self.n_layers = len(model.names)
        self.all_layers = list(range(self.n_layers))
        self.observers = [observers(stats, layer) for layer in range(self.n_layers)]
        self.relu_inputs = relu_inputs(model.nodes, model.sources)
        self.relu_of = {j: k for k, j in self.relu_inputs.items()}
        self.layer_stats = [s.name for s in stats if s.kind == "layer"]
        self.vector_stats = [s.name for s in stats if s.kind in ("timestep", "histogram")]
        self.scalar_stats = [s.name for s in stats if s.kind == "scalar"]
        self.backward_stats = overriding(stats, "after_backward")
        self.step_stats = overriding(stats, "after_step")
        self.progress, self.should_cancel = progress, should_cancel
        self.rec = Recording()
        self.pending_losses: list[Any] = []  # floats on the host paths, else device tensors
        self.losses_on_host: bool | None = None  # known at the first step
        self.pending_first_step = 0
        self.probe: Probe | None = None
        self.ctx: StepContext | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.loss_scaling = False
        self.stop = False
        self.probed_step = -1  # the step armed for a probe (-1: none); int compares are cheapest
        if 0 in self.schedule:
            self._arm(0)

    def _arm(self, step: int) -> None:
        """Make ready to probe `step` (a step of the schedule)."""
        self.probed_step = step
        self.probe = Probe(step, self.relu_inputs, self.relu_of)
        if any(self.observers):
            self.model.observer = self._observe

    def _observe(self, outs: list[Tensor]) -> None:
        """Every node's output at the end of the forward pass, in one tight loop (between
        layers' kernels, which evict it from the caches, Python runs several times slower)."""
        probe = self.probe
        assert probe is not None
        probe.outs = outs
        for layer, (out, fns) in enumerate(zip(outs, self.observers, strict=True)):
            for on_output in fns:
                on_output(probe, layer, out)
        probe.outs = []  # held no longer: backward frees what it no longer needs
        probe.forget_view()

    def start(self, optimizer: torch.optim.Optimizer, loss_scaling: bool) -> None:
        # with fp16 loss scaling a step can be skipped, so the optimizer's state alone
        # does not say whether (or how far) the weights moved
        self.optimizer, self.loss_scaling = optimizer, loss_scaling

    # -- hook point 1: after backward, before clipping -------------------------------
    def after_backward(self, step: int, loss: Tensor, output: Tensor, target: Tensor) -> None:
        loss = loss.detach()
        if self.losses_on_host is None:
            self.losses_on_host = is_host(loss)
        # in host memory the value itself, read at once (as cheap as keeping the tensor, and
        # a dozen tensors read later, after a training step has swept the caches, cost more)
        self.pending_losses.append(float(loss.numpy()) if self.losses_on_host else loss)
        if step != self.probed_step or self.probe is None:
            return
        self.model.observer = None
        self.ctx = StepContext(
            loss.detach(), output, target, self.target_kind, self.optimizer, self.loss_scaling
        )
        with np.errstate(all="ignore"):  # a diverged run's inf/nan are values
            for s in self.backward_stats:
                s.after_backward(self.probe, self.ctx)

    # -- hook point 2: after the optimizer step ----------------------------------------
    def after_step(self, step: int, updated: bool) -> None:
        if step == self.probed_step:
            if self.probe is not None and self.ctx is not None:
                with np.errstate(all="ignore"):  # a diverged run's inf/nan are values
                    for s in self.step_stats:
                        s.after_step(self.probe, self.ctx, updated)
                self._flush(self.probe)
            self.probe = self.ctx = None
            self.probed_step = -1
        elif len(self.pending_losses) >= self.max_pending:  # probes far apart: bound the list
            self._check_losses(self._pending([])[1])
        if step + 1 in self.schedule:
            self._arm(step + 1)

    def should_stop(self) -> bool:
        return self.stop or (self.should_cancel is not None and self.should_cancel())

    def _host(self, values: list[Vector]) -> list[np.ndarray]:
        """Values as float64 NumPy vectors. Host memory is read where it is (the host paths'
        values are NumPy already, and a CPU tensor's memory is NumPy's too); every tensor
        elsewhere comes over in one transfer (a single sync per probe)."""
        host: list[np.ndarray | None] = []
        remote: list[tuple[int, Tensor]] = []
        for v in values:
            if isinstance(v, np.ndarray):
                host.append(v)
            elif is_host(v):
                host.append(v.numpy().astype(np.float64, copy=False))
            else:
                remote.append((len(host), v))
                host.append(None)
        if remote:
            flat = torch.cat([v.reshape(-1) for _, v in remote]).double().cpu().numpy()
            parts = np.split(flat, np.cumsum([v.numel() for _, v in remote])[:-1])
            for (i, _), part in zip(remote, parts, strict=True):
                host[i] = part
        return host  # type: ignore[return-value]  # every slot is filled

    def _pending(self, values: list[Vector]) -> tuple[list[np.ndarray], list[float]]:
        """`values` in host memory, and the losses of the steps since the last check: off
        the host paths both come over in the same single transfer."""
        if self.losses_on_host:
            return self._host(values), self.pending_losses
        *host, losses = self._host([*values, torch.stack(self.pending_losses)])
        return host, losses.tolist()

    def _check_losses(self, losses: list[float]) -> None:
        if not math.isfinite(sum(losses)):  # rare: then find the first bad step
            bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
            if bad and self.rec.first_nonfinite_step is None:
                self.rec.first_nonfinite_step = self.pending_first_step + bad[0]
                self.stop = True
        self.pending_first_step += len(losses)
        self.pending_losses = []

    def _flush(self, probe: Probe) -> None:
        entries = probe.entries
        host, losses = self._pending([v for _, _, v in entries])
        self._check_losses(losses)
        rows: dict[str, list[float | None]] = {
            name: [None] * self.n_layers for name in self.layer_stats
        }
        vectors: dict[str, list[list[float] | None]] = {
            name: [None] * self.n_layers for name in self.vector_stats
        }
        scalars: dict[str, float | None] = {}
        total = 0.0  # of every per-layer value: finite unless one is not (or it overflows)
        for (name, layers, _), value in zip(entries, host, strict=True):
            if name in rows:
                values = value.tolist()
                total += sum(values)
                if layers == self.all_layers:
                    rows[name] = values
                    continue
                row = rows[name]
                for layer, v in zip(layers, values, strict=True):
                    row[layer] = v
            elif name in vectors:
                vectors[name][layers[0]] = value.tolist()
            else:
                scalars[name] = float(value[0])
        known = self.rec.first_nonfinite_step is not None
        if not math.isfinite(total) and not known and any_nonfinite(rows.values()):
            self.rec.first_nonfinite_step = probe.step
            self.stop = True
        self._store(probe.step, rows, vectors, scalars)

    def _store(
        self,
        step: int,
        rows: dict[str, list[float | None]],
        vectors: dict[str, list[list[float] | None]],
        scalars: dict[str, float | None],
    ) -> None:
        self.rec.steps.append(step)
        for name, row in rows.items():
            self.rec.layer[name].append(row)
        for name, vec in vectors.items():
            self.rec.vectors[name].append(vec)
        for name in self.scalar_stats:
            self.rec.scalar[name].append(scalars.get(name))
        if self.progress is not None:
            self.progress(step, scalars.get("loss"))
