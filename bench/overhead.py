"""Probe overhead: training-step time with gradprobe's recorder relative to a bare PyTorch
loop on the same model and batches, measured interleaved in one process.

    python bench/overhead.py [--rounds 25] [--block 60] [--models mlp20,mlp50,...] [--json out.json]
                             [--refs] [--markdown]

For each model, rounds alternate: a block of bare steps, a block with the default probe at
every=10, a block at every=1 (activation statistics on). Every block of a round starts from
the same weights and the same batches (restored before each block, outside the timing), with
a fresh optimizer, and the order of the blocks rotates from round to round (reversed in
every other cycle, so that no column always follows the same one). Each block's mean
step time is divided by the bare block's of the same round; the table reports the median
ratio over rounds and, in brackets, its quartiles. A second bare column ("bare again", the
same loop as a column of its own) is the run's own control: its median ratio should be 1.00,
and how far it lands from that is the run's noise floor (on a shared 2-core VM one round's
ratio varies by several percent). Many rounds rather than a few long ones: the machine
drifts between fast and slow states over seconds, and a short round is more likely to see
one state throughout. A block is not shorter than 60 steps all the same: the first probe of
a run (at step 0, when the probe's memory is first touched and the optimizer's state first
made) costs about a millisecond more than the others, and a 20-step block at every=10 makes
it one probe in two where a 200-step run makes it one in 21 (60 steps: one in six). Every
column runs with the heap allocated before it frozen out of the garbage collector's sight,
as execute() trains (worker.run.frozen_heap): unfrozen, a full collection (~90 ms here)
lands on whichever block happens to trigger it.

--refs adds reference columns, measured the same way (their blocks interleaved in the same
rounds, ratios against the same bare blocks), each where it installs and applies:
`wandb.watch(model, log="all", log_freq=1)` in offline mode with a `run.log` per step, and
Cockpit's cheapest configuration ("economy" quantities, BackPACK-extended nn.Sequential
copy of the MLPs only). A column that cannot be measured is null, with the reason printed
and kept under the row's "notes". --markdown prints the rows as a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gradprobe.plan import parse_spec
from gradprobe.spec import Caps
from worker.losses import loss_fn
from worker.recorder import Recorder
from worker.run import attach, frozen_heap, prepare
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
        self.run = prepare(parse_spec(raw), Caps())  # seeds, builds and loads as execute() does
        self.plan, self.spec, self.device = self.run.plan, self.run.spec, self.run.device
        self.model, self.batches = self.run.model, self.run.batches
        self.kind = self.plan.data.target

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def snapshot(self) -> tuple[list[Tensor], Tensor]:
        """The model's parameters and buffers and the batch stream's position."""
        tensors = [t.detach().clone() for t in (*self.model.parameters(), *self.model.buffers())]
        return tensors, self.batches.generator.get_state()

    def restore(self, state: tuple[list[Tensor], Tensor]) -> None:
        """Back to `state`, in place (optimizers and statistics hold these very tensors)."""
        tensors, generator = state
        with torch.no_grad():
            own = (*self.model.parameters(), *self.model.buffers())
            for t, saved in zip(own, tensors, strict=True):
                t.copy_(saved)
        self.batches.generator.set_state(generator)


def bare(s: Setup) -> Runner:
    """The plain PyTorch loop: forward, loss, backward, step, zero_grad (and the same final
    forward/backward without a step that the probed loop runs). Its optimizer is made afresh
    for each block, outside the timing, as gradprobe's `train()` makes its own."""

    def run(steps: int) -> float:
        opt = torch.optim.SGD(s.model.parameters(), lr=0.01, momentum=0.9)
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
    stats = attach(s.run, probe)

    def run(steps: int) -> float:
        train_spec = s.spec.train.model_copy(update={"steps": steps})
        recorder = Recorder(s.model, stats, list(range(0, steps, every)), s.kind)
        s.sync()
        start = time.perf_counter()
        train(s.model, s.batches, train_spec, s.kind, recorder, s.device)
        s.sync()
        return (time.perf_counter() - start) / (steps + 1)

    return run


@dataclass
class Ref:
    """A reference runner, and what to undo once its model has been measured."""

    run: Runner
    close: Callable[[], None]


def _copy_weights(dst: nn.Module, src: nn.Module) -> None:
    """Give `dst` (a copy of `src`: the same parameters and buffers, in the same order)
    src's current values, in place, so hooks on dst's tensors stay attached. The reference
    runners train their own copy; this starts each of their blocks from the weights the
    other runners have reached, so every column times the same network."""
    with torch.no_grad():
        for d, p in zip(dst.parameters(), src.parameters(), strict=True):
            d.copy_(p)
        for db, b in zip(dst.buffers(), src.buffers(), strict=True):
            db.copy_(b)


def wandb_watch(s: Setup) -> Ref | str:
    """`wandb.watch(model, log="all", log_freq=1)` in offline mode, on a deep copy of the
    model (s.model never gets wandb's hooks), with the bare loop's steps and batches.

    watch() adds a forward hook on the model that histograms every parameter and a hook on
    every parameter's gradient that histograms it, each every `log_freq` passes, logged
    with commit=False; the loop's `run.log` at every step commits them as that step's row,
    which is what a training loop does for log_freq=1 to record every step."""
    try:
        import wandb
    except Exception as exc:  # not installed, or a broken install
        return f"wandb not importable: {exc!r}"
    os.environ.setdefault("WANDB_SILENT", "true")
    model = copy.deepcopy(s.model)
    folder = tempfile.mkdtemp(prefix="gradprobe-bench-wandb-")
    try:
        run = wandb.init(
            project="gradprobe-bench", mode="offline", dir=folder, reinit="finish_previous"
        )
        run.watch(model, log="all", log_freq=1)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return f"wandb.init/watch failed: {exc!r}"
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def steps_run(steps: int) -> float:
        _copy_weights(model, s.model)
        s.sync()
        start = time.perf_counter()
        for step in range(steps + 1):
            x, y = s.batches.next()
            loss = loss_fn(s.kind, model(x), y)
            loss.backward()
            if step < steps:
                opt.step()
            opt.zero_grad(set_to_none=True)
            run.log({"loss": loss.item()})  # commits this step's histograms
        s.sync()
        return (time.perf_counter() - start) / (steps + 1)

    def close() -> None:
        run.unwatch(model)
        run.finish()
        shutil.rmtree(folder, ignore_errors=True)

    return Ref(steps_run, close)


SEQUENTIAL_OPS = {"linear", "activation", "flatten"}


def as_sequential(s: Setup) -> nn.Sequential | str:
    """The model as an nn.Sequential of copies of its layers (same sizes, activations and
    current weights), which BackPACK can extend; else why not."""
    ops = [la.op for la in s.plan.layers]
    other = sorted(set(ops) - SEQUENTIAL_OPS)
    if other:
        return f"its {'/'.join(other)} layers are not an nn.Sequential of Linear/activations"
    chain = all(src == [i - 1] for i, src in enumerate(s.model.sources))
    if not chain or s.model.output != len(ops) - 1:
        return "its graph is not a single chain of layers"
    if s.kind not in ("class", "regress"):
        return f"its {s.kind} targets have no per-sample loss here"
    return nn.Sequential(*copy.deepcopy(list(s.model.nodes)))


def _import_cockpit() -> Any:
    """cockpit 1.0.2 reads its own version through pkg_resources, which recent setuptools
    no longer ships; a stand-in (removed again after the import) reports it unknown."""
    shim = None
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name: str) -> Any:
            raise DistributionNotFound(name)

        shim.DistributionNotFound = DistributionNotFound  # type: ignore[attr-defined]
        shim.get_distribution = get_distribution  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    try:
        import cockpit
        import cockpit.utils.configuration
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
    return cockpit


def _per_sample_mse(out: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(out, y, reduction="none").flatten(1).mean(1)


def cockpit_economy(s: Setup) -> Ref | str:
    """Cockpit's "economy" quantities at every step, as in Cockpit's basic example: the
    model and loss extended by BackPACK, per-sample losses, and the backward pass inside
    `with cockpit(global_step, info=...)`. On an nn.Sequential copy of the model."""
    seq = as_sequential(s)
    if isinstance(seq, str):
        return f"Cockpit/BackPACK cannot take this model: {seq}"
    try:
        cockpit = _import_cockpit()
        from backpack import extend
    except Exception as exc:
        return f"cockpit not importable: {exc!r}"
    model = extend(seq)
    individual: Callable[[Tensor, Tensor], Tensor]
    if s.kind == "class":
        lossfunc = extend(nn.CrossEntropyLoss(reduction="mean"))
        individual = nn.CrossEntropyLoss(reduction="none")
    else:
        lossfunc = extend(nn.MSELoss(reduction="mean"))
        individual = _per_sample_mse

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    quantities = cockpit.utils.configuration.configuration("economy")
    cp = cockpit.Cockpit(model.parameters(), quantities=quantities)
    global_step = 0

    def steps_run(steps: int) -> float:
        nonlocal global_step
        _copy_weights(model, s.model)
        s.sync()
        start = time.perf_counter()
        for step in range(steps + 1):
            x, y = s.batches.next()
            out = model(x)
            loss = lossfunc(out, y)
            losses = individual(out, y)
            info = {
                "batch_size": x.shape[0],
                "individual_losses": losses,
                "loss": loss,
                "optimizer": opt,
            }
            with cp(global_step, info=info), warnings.catch_warnings():
                # BackPACK's module hooks on the first layer, whose input needs no gradient
                warnings.filterwarnings("ignore", "Full backward hook is firing")
                loss.backward(create_graph=cp.create_graph(global_step))
            if step < steps:
                opt.step()
            opt.zero_grad(set_to_none=True)
            global_step += 1
        s.sync()
        return (time.perf_counter() - start) / (steps + 1)

    return Ref(steps_run, lambda: None)


REFS: dict[str, Callable[[Setup], Ref | str]] = {
    "wandb_watch": wandb_watch,
    "cockpit_economy": cockpit_economy,
}


def start_refs(name: str, s: Setup) -> tuple[dict[str, Ref], dict[str, str]]:
    """The reference runners that could be set up and ran their warm-up, and why the others
    are left out (printed too)."""
    refs: dict[str, Ref] = {}
    notes: dict[str, str] = {}
    for key, make in REFS.items():
        made = make(s)
        if isinstance(made, Ref):
            try:
                made.run(5)  # warm-up
                refs[key] = made
                continue
            except Exception as exc:
                made.close()
                made = f"failed in warm-up: {exc!r}"
        notes[key] = made
        print(f"{name}: {key} left empty: {made}")
    return refs, notes


def measure(
    name: str, rounds: int, block: int, device: torch.device, with_refs: bool
) -> dict[str, Any]:
    s = Setup(MODELS[name], device)
    runners: dict[str, Runner] = {
        "bare": bare(s),
        "bare_again": bare(s),
        "every10": probed(s, 10, activations=True),
        "every1": probed(s, 1, activations=True),
    }
    own = list(runners)
    refs, notes = start_refs(name, s) if with_refs else ({}, {})
    try:
        for r in runners.values():  # warm-up
            r(5)
        runners |= {k: ref.run for k, ref in refs.items()}
        times: dict[str, list[float]] = {k: [] for k in runners}
        keys = list(runners)
        with frozen_heap():  # every column, as execute() trains
            for i in range(rounds):
                # Every block of a round starts from the same weights and batches, and the
                # order rotates: each column then times the same training steps, not the
                # steps that follow the other columns' updates, and no column always runs
                # first or last.
                start = s.snapshot()
                for key in block_order(keys, i):
                    s.restore(start)
                    times[key].append(runners[key](block))
    finally:
        for ref in refs.values():
            ref.close()
    per_round = {k: [t / b for t, b in zip(times[k], times["bare"], strict=True)] for k in runners}
    ratios = {k: statistics.median(v) for k, v in per_round.items()}
    row = {
        "model": name,
        "layers": len(s.plan.layers),
        "bare_ms": 1e3 * statistics.median(times["bare"]),
    }
    row |= {f"ratio_{k}": ratios[k] for k in own if k != "bare"}
    row |= {f"quartiles_{k}": quartiles(per_round[k]) for k in runners if k != "bare"}
    if with_refs:
        row |= {f"ratio_{k}": ratios.get(k) for k in REFS}
        if notes:
            row["notes"] = notes
    return row


def block_order(keys: list[str], i: int) -> list[str]:
    """Round i's order of the columns: rotated by i, and reversed in every other cycle of
    rotations, so that no column always runs first or last, nor always right after the same
    column (what a block leaves behind, e.g. the every=1 column's caches and allocations,
    would otherwise always land on the same neighbour)."""
    order = keys[i % len(keys) :] + keys[: i % len(keys)]
    return order[::-1] if (i // len(keys)) % 2 else order


def quartiles(values: list[float]) -> list[float]:
    """The first and third quartiles (both the value itself for a single round)."""
    if len(values) < 2:
        return [values[0], values[0]]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return [q1, q3]


COLUMNS = {
    "model": "model",
    "layers": "layers",
    "bare_ms": "bare ms/step",
    "ratio_bare_again": "bare again (control)",
    "ratio_every10": "gradprobe every=10",
    "ratio_every1": "gradprobe every=1",
    "ratio_wandb_watch": "wandb.watch all/1",
    "ratio_cockpit_economy": "Cockpit economy",
}


def markdown(rows: list[dict[str, Any]], caption: str) -> str:
    """The rows as a Markdown table (ratios to the bare loop; n/a where not measured), the
    reasons for empty cells below it."""

    def cell(row: dict[str, Any], key: str) -> str:
        v = row.get(key)
        if v is None:
            return "n/a"
        if key == "bare_ms":
            return f"{v:.1f}"
        if key.startswith("ratio_"):
            spread = row.get("quartiles_" + key.removeprefix("ratio_"))
            return f"{v:.3f}x" + (f" ({spread[0]:.2f}-{spread[1]:.2f})" if spread else "")
        return str(v)

    lines = [
        "| " + " | ".join(COLUMNS.values()) + " |",
        "|:--" + "|--:" * (len(COLUMNS) - 1) + "|",
    ]
    lines += ["| " + " | ".join(cell(r, k) for k in COLUMNS) + " |" for r in rows]
    lines += ["", caption]
    for r in rows:
        for key, why in r.get("notes", {}).items():
            lines.append(f"- {r['model']}, {COLUMNS.get('ratio_' + key, key)}: {why}")
    return "\n".join(lines)


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in ("wandb", "cockpit-for-pytorch", "backpack-for-pytorch"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--block", type=int, default=60)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--refs", action="store_true", help="also measure wandb.watch and Cockpit (if installed)"
    )
    p.add_argument("--markdown", action="store_true", help="print the rows as a Markdown table")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name() if device.type == "cuda" else platform.machine()
    header = (
        f"device {device} ({card}), torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(header)
    versions = _versions() if args.refs else {}
    if args.refs:
        print("refs: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in versions.items()))
    rows = []
    for name in args.models.split(","):
        row = measure(name, args.rounds, args.block, device, args.refs)
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
    if args.markdown:
        caption = (
            f"{header}; median over {args.rounds} rounds of {args.block}-step blocks of the "
            "step-time ratio to the bare loop (quartiles over the rounds in brackets)."
        )
        if args.refs:
            caption += " " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + "."
        else:
            caption += " wandb.watch and Cockpit not measured (run with --refs)."
        print()
        print(markdown(rows, caption))
    if args.json:
        doc: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "rows": rows}
        if args.refs:
            doc["refs"] = versions
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
