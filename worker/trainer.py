"""The one training loop. Statistics attach at its two hook points and nowhere else:
`after_backward` (raw gradients, before clipping) and `after_step` (after the update).

Step s means "the network before update s": a probe at step 0 sees the network at
initialisation, and the loop runs one last forward/backward at step `steps` (no update)
so the final network is probed too. `train.steps: 0` is thus a single probe at init.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch._dynamo  # every optimizer's constructor imports it (~1 s): here, at the worker's
from torch import Tensor, nn  # start, rather than in each pool process's first job

from gradprobe.spec import TrainSpec
from worker.data import Batches
from worker.losses import loss_fn


class Hooks(Protocol):
    def start(self, optimizer: torch.optim.Optimizer, loss_scaling: bool) -> None: ...
    def after_backward(self, step: int, loss: Tensor, output: Tensor, target: Tensor) -> None: ...
    def after_step(self, step: int, updated: bool) -> None: ...
    def should_stop(self) -> bool: ...


@dataclass
class TrainLog:
    step_times: list[float] = field(default_factory=list)  # host seconds per step
    steps_run: int = 0
    total_s: float = 0.0


def make_optimizer(model: nn.Module, train: TrainSpec) -> torch.optim.Optimizer:
    o = train.optimizer
    params = model.parameters()
    if o.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=o.lr,
            momentum=o.momentum,
            nesterov=o.nesterov and o.momentum > 0,
            weight_decay=o.weight_decay,
        )
    if o.name == "adam":
        return torch.optim.Adam(
            params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
    if o.name == "adamw":
        return torch.optim.AdamW(
            params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
    return torch.optim.RMSprop(
        params, lr=o.lr, momentum=o.momentum, eps=o.eps, weight_decay=o.weight_decay
    )


def lr_factor(train: TrainSpec, step: int) -> float:
    """Linear warm-up over `warmup_steps`, then constant, cosine or linear decay."""
    warm, total = train.schedule.warmup_steps, max(train.steps, 1)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(total - warm, 1)
    if train.schedule.name == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    if train.schedule.name == "linear":
        return max(1.0 - progress, 0.0)
    return 1.0


def _autocast(device: torch.device, precision: str) -> AbstractContextManager[object]:
    if device.type == "cuda" and precision in ("bf16", "fp16"):
        return torch.autocast(
            "cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16
        )
    return nullcontext()


def train(
    model: nn.Module,
    batches: Batches,
    spec: TrainSpec,
    target_kind: str,
    hooks: Hooks,
    device: torch.device,
) -> TrainLog:
    opt = make_optimizer(model, spec)
    base_lrs = [g["lr"] for g in opt.param_groups]
    scaler = (
        torch.amp.GradScaler("cuda") if device.type == "cuda" and spec.precision == "fp16" else None
    )
    # What does not change from step to step is read once: every statement of the loop
    # runs on every step, probed or not, and Python right after a training step's kernels
    # runs from cold caches (~35 us a step on a 7 ms CPU step before these were hoisted).
    steps, max_norm, max_value = spec.steps, spec.clip.max_norm, spec.clip.max_value
    lr_varies = spec.schedule.name != "constant" or spec.schedule.warmup_steps > 0
    autocast = _autocast(device, spec.precision)
    step_times: list[float] = []
    log = TrainLog(step_times)
    hooks.start(opt, scaler is not None)
    start = time.perf_counter()
    model.train()
    for step in range(steps + 1):
        tick = time.perf_counter()
        update = step < steps  # the last pass only probes the final network
        if lr_varies or step == 0:
            for group, base in zip(opt.param_groups, base_lrs, strict=True):
                group["lr"] = base * lr_factor(spec, step)
        x, y = batches.next()

        with autocast:
            output = model(x)
            loss = loss_fn(target_kind, output, y)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(opt)  # statistics and clipping see true gradients
        hooks.after_backward(step, loss, output, y)

        if update:
            if max_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if max_value is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), max_value)
            if scaler:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
        hooks.after_step(step, update)
        opt.zero_grad(set_to_none=True)
        step_times.append(time.perf_counter() - tick)
        if hooks.should_stop():
            break
    log.total_s = time.perf_counter() - start
    log.steps_run = len(step_times)
    return log
