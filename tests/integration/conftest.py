"""Fixtures that start real servers: a PostgreSQL cluster per session (a fresh database per
test), a fresh Redis per test, and a `Service` (API + workers) wired to both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Postgres, Redis, Service


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = Postgres().start()
    yield pg
    pg.stop()
    pg.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store on each database a migration must run on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.new_database()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def service(tmp_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[Service]:
    """Production wiring: PostgreSQL store, Redis broker; migrated, with a key; no processes
    started yet (each test starts the API and workers it needs)."""
    svc = Service(
        tmp_path,
        {
            "GRADPROBE_DATABASE_URL": postgres.new_database(),
            "GRADPROBE_BROKER_URL": redis_server.url,
        },
    )
    svc.migrate()
    svc.key = svc.create_key()
    yield svc
    svc.stop_all()
    print(svc.logs())
