"""The sync and async surfaces are the same, and importing gradprobe stays cheap."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import gradprobe
from gradprobe import client as gpc
from gradprobe.client.jobs import AsyncJobs, Jobs
from gradprobe.client.specs import AsyncPresets, AsyncSpecs, Presets, Specs
from gradprobe.client.studies import AsyncStudies, Studies

PAIRS = [
    (gpc.Client, gpc.AsyncClient),
    (Jobs, AsyncJobs),
    (Studies, AsyncStudies),
    (Specs, AsyncSpecs),
    (Presets, AsyncPresets),
    (gpc.Job, gpc.AsyncJob),
]
CLOSING = {"close", "aclose"}  # close() / aclose(), as httpx names them


def public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if (name == "__init__" or not name.startswith("_")) and name not in CLOSING
    }


def params(sig: inspect.Signature) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=lambda c: c.__name__)
def test_the_same_methods_with_the_same_parameters(sync: type, async_: type) -> None:
    ours, theirs = public(sync), public(async_)
    assert ours.keys() == theirs.keys()
    for name, sig in ours.items():
        assert params(sig) == params(theirs[name]), name
        member = getattr(async_, name)
        if name != "__init__":
            assert inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member), name


def test_the_top_level_exports_the_client_lazily() -> None:
    assert gradprobe.Client is gpc.Client and gradprobe.ValidationError is gpc.ValidationError
    with pytest.raises(AttributeError):
        _ = gradprobe.NoSuchThing
    code = (
        "import sys, gradprobe; assert 'httpx' not in sys.modules;"
        "from gradprobe import Client, AsyncClient; import gradprobe.client;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_both_clients_hold_the_same_resources() -> None:
    sync, async_ = gpc.Client("http://gp.test"), gpc.AsyncClient("http://gp.test")
    names = {n for n in vars(sync) if not n.startswith("_")}
    assert names == {n for n in vars(async_) if not n.startswith("_")}
    assert {"jobs", "studies", "specs", "presets", "config"} <= names
    sync.close()
