"""Fixtures of the API tests: a real store (SQLite, migrated with Alembic) and the real
filesystem broker under a fresh $GRADPROBE_HOME per test, API keys for two tenants, and
one real result document per session, made by the engine."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.settings import Settings
from service.store.db import engine_for, session_scope
from service.store.jobs import claim, finish
from service.store.keys import create_key
from service.store.migrate import upgrade

# A tiny recurrent net on the copy task: several probes, per-step accuracy, time-step norms
# and histograms, so every part of the document that filters touch is there.
SPEC: dict[str, Any] = {
    "name": "tiny-rnn",
    "model": {"type": "rnn", "cell": "tanh", "hidden": 8},
    "data": {"name": "copy", "length": 4, "copy_len": 2, "alphabet": 3, "samples": 64},
    "train": {"steps": 12, "batch_size": 16, "device": "cpu"},
    "probe": {"every": 1, "histograms": True},
}
MLP: dict[str, Any] = {"model": {"type": "mlp", "depth": 3, "width": 8}}


def make_settings(home: Path, **overrides: Any) -> Settings:
    """The embedded defaults under `home`, whatever GRADPROBE_* says, and no rate limit
    unless a test asks for one."""
    values: dict[str, Any] = {
        "home": home,
        "database_url": "",
        "broker_url": "",
        "rate_per_s": 10_000.0,
        "rate_burst": 10_000,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store migrated once; each test gets a copy (Alembic per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "gradprobe.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine_for(url).dispose()  # checkpoints the WAL into the file
    return path


@pytest.fixture
def home(tmp_path: Path, template_db: Path) -> Path:
    shutil.copy(template_db, tmp_path / "gradprobe.db")
    return tmp_path


@pytest.fixture
def settings(home: Path) -> Settings:
    return make_settings(home)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def new_key(settings: Settings, name: str) -> str:
    with session_scope(settings.store_url) as session:
        return create_key(session, name).secret


@pytest.fixture
def alice(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_key(settings, 'alice')}"}


@pytest.fixture
def bob(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_key(settings, 'bob')}"}


@pytest.fixture(scope="session")
def result_document() -> bytes:
    """The result document of SPEC, as a worker stores it (JSON bytes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from worker.run import execute  # torch: only the tests load it, never the API

        return execute(SPEC).model_dump_json().encode()


def store_result(settings: Settings, job_id: str, document: bytes) -> None:
    """Do what a worker does: claim the job, then finish it with `document`."""
    with session_scope(settings.store_url) as session:
        taken = claim(session, job_id, "test-worker", lease_s=60)
        assert taken is not None
        doc = json.loads(document)
        done = finish(
            session,
            job_id,
            taken.token,
            "succeeded",
            document=document,
            summary=doc["summary"],
            step=doc["steps"][-1],
        )
        assert done


@pytest.fixture
def submit(client: TestClient, alice: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """POST a spec as alice; returns the job view of the 202."""

    def post(spec: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        r = client.post("/v1/jobs", json=spec or MLP, headers={**alice, **headers})
        assert r.status_code == 202, r.text
        view: dict[str, Any] = r.json()
        return view

    return post


@pytest.fixture
def finished_job(
    submit: Callable[..., dict[str, Any]], settings: Settings, result_document: bytes
) -> str:
    """A job of alice's that succeeded with the session's result document."""
    job_id: str = submit(SPEC)["id"]
    store_result(settings, job_id, result_document)
    return job_id


def queued_messages(home: Path) -> list[str]:
    """The contents of the messages waiting in the filesystem broker."""
    return [p.read_text() for p in sorted((home / "broker" / "queue").glob("*.msg"))]


# The helpers above, as fixtures: test modules do not import conftest (tests/worker has one
# too, and both would be the module `conftest`).
@pytest.fixture
def spec() -> dict[str, Any]:
    return json.loads(json.dumps(SPEC))


@pytest.fixture
def mlp() -> dict[str, Any]:
    return json.loads(json.dumps(MLP))


@pytest.fixture(name="make_settings")
def _make_settings() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture(name="new_key")
def _new_key() -> Callable[[Settings, str], str]:
    return new_key


@pytest.fixture(name="store_result")
def _store_result() -> Callable[[Settings, str, bytes], None]:
    return store_result


@pytest.fixture
def queued(home: Path) -> Callable[[], list[str]]:
    return lambda: queued_messages(home)
