"""Probe overhead: training-step time with gradprobe's recorder relative to a bare PyTorch
loop on the same model and batches, measured interleaved in one process.

    python bench/overhead.py [--rounds 7] [--block 40] [--models mlp20,mlp50,...] [--json out.json]

For each model, rounds alternate: a block of bare steps, a block with the default probe at
every=10, a block at every=1 (activation statistics on). Each block's mean step time is
divided by the bare block's of the same round; the table reports the median ratio over
rounds. Optional reference columns (when installed): `wandb.watch(model, log="all",
log_freq=1)` in offline mode, and Cockpit's cheapest configuration ("economy").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from gradprobe.plan import plan_document
from worker.builder import build
from worker.data import load
from worker.losses import loss_fn
from worker.recorder import Recorder
from worker.stats.base import layer_table
from worker.stats.registry import selected
from worker.trainer import train

MODELS: dict[str, dict[str, Any]] = {
    "mlp20": {"model": {"type": "mlp", "depth": 20, "width": 256}, "data": {"name": "teacher"}},
    "mlp50": {"model": {"type": "mlp", "depth": 50, "width": 256}, "data": {"name": "teacher"}},
    "mlp100": {"model": {"type": "mlp", "depth": 100, "width": 256}, "data": {"name": "teacher"}},
    "lstm": {
        "model": {"type": "rnn", "cell": "lstm", "hidden": 128},
        "data": {"name": "adding", "length": 50},
    },
    "transformer": {
        "model": {"type": "transformer", "layers": 4, "d_model": 128, "heads": 4},
        "data": {"name": "copy", "length": 20, "copy_len": 5},
    },
}
Runner = Callable[[int], float]


class Setup:
    """One model, its data and optimizer settings, shared by every runner."""

    def __init__(self, raw: dict[str, Any], device: torch.device) -> None:
        raw = {
            **raw,
            "train": {
                "batch_size": 128,
                "optimizer": {"name": "sgd", "lr": 0.01},
                "device": str(device),
            },
        }
        self.plan = plan_document(raw)
        self.spec = self.plan.spec
        self.device = device
        torch.manual_seed(0)
        self.model = build(self.plan).to(device)
        self.batches = load(
            self.spec.data,
            self.plan.data,
            self.spec.model.type,
            _caps(),
            128,
            0,
            device,
            torch.float32,
        )
        self.kind = self.plan.data.target

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def _caps() -> Any:
    from gradprobe.spec import Caps

    return Caps()


def bare(s: Setup) -> Runner:
    """The plain PyTorch loop: forward, loss, backward, step, zero_grad (and the same final
    forward/backward without a step that the probed loop runs)."""
    opt = torch.optim.SGD(s.model.parameters(), lr=0.01, momentum=0.9)

    def run(steps: int) -> float:
        s.sync()
        start = time.perf_counter()
        for step in range(steps + 1):
            x, y = s.batches.next()
            loss = loss_fn(s.kind, s.model(x), y)
            loss.backward()
            if step < steps:
                opt.step()
            opt.zero_grad(set_to_none=True)
        s.sync()
        return (time.perf_counter() - start) / (steps + 1)

    return run


def probed(s: Setup, every: int, activations: bool) -> Runner:
    """gradprobe's own loop and recorder with the default statistics."""
    probe = s.spec.probe.model_copy(update={"every": every, "activations": activations})
    stats = selected(probe)
    table = layer_table(
        s.model.names,
        [la.op for la in s.plan.layers],
        [getattr(la.node, "fn", None) for la in s.plan.layers],
        list(s.model.nodes),
        s.device,
    )
    for st in stats:
        st.bind(table)

    def run(steps: int) -> float:
        train_spec = s.spec.train.model_copy(update={"steps": steps})
        recorder = Recorder(s.model, stats, list(range(0, steps, every)), s.kind)
        s.sync()
        start = time.perf_counter()
        train(s.model, s.batches, train_spec, s.kind, recorder, s.device)
        s.sync()
        return (time.perf_counter() - start) / (steps + 1)

    return run


def wandb_watch(s: Setup) -> Runner | None:
    try:
        import os

        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        wandb.init(project="gradprobe-bench", mode="offline", reinit="finish_previous")
        wandb.watch(s.model, log="all", log_freq=1)
    except Exception as exc:
        print(f"wandb unavailable: {exc}")
        return None
    inner = bare(s)

    def run(steps: int) -> float:
        return inner(steps)

    return run


def measure(
    name: str, rounds: int, block: int, device: torch.device, with_refs: bool
) -> dict[str, Any]:
    s = Setup(MODELS[name], device)
    runners: dict[str, Runner] = {
        "bare": bare(s),
        "every10": probed(s, 10, activations=True),
        "every1": probed(s, 1, activations=True),
    }
    for r in runners.values():  # warm-up
        r(5)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for key, r in runners.items():
            times[key].append(r(block))
    ratios = {
        k: statistics.median(t / b for t, b in zip(times[k], times["bare"], strict=True))
        for k in runners
    }
    row = {
        "model": name,
        "layers": len(s.plan.layers),
        "bare_ms": 1e3 * statistics.median(times["bare"]),
    }
    row |= {f"ratio_{k}": ratios[k] for k in runners if k != "bare"}
    if with_refs:
        w = wandb_watch(s)
        if w is not None:
            ref = [w(block) / runners["bare"](block) for _ in range(max(3, rounds // 2))]
            row["ratio_wandb_watch"] = statistics.median(ref)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--block", type=int, default=40)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--refs", action="store_true", help="also measure wandb.watch (if installed)")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name() if device.type == "cuda" else platform.machine()
    print(f"device {device} ({card}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    for name in args.models.split(","):
        row = measure(name, args.rounds, args.block, device, args.refs)
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": str(device), "torch": torch.__version__, "rows": rows}, f, indent=1
            )


if __name__ == "__main__":
    main()
