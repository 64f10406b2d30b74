"""docker-compose.yml without Docker: the file validates with Debian's docker-compose, and each
gradprobe service in it, started with its exact command and environment as a plain process
against a real Redis and a real PostgreSQL, runs a job over HTTP.

Only what names the containers' world is changed: the host names `redis` and `postgres`
become the servers started here, the API's port is a free one, and GRADPROBE_HOME (set by
the images) is a temporary folder. CUDA is absent here, so worker-gpu trains on the CPU.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from psycopg import sql
from sqlalchemy.engine import make_url

from service.settings import Settings
from tests.integration.harness import Postgres, Proc, Redis, free_port, wait_for, wait_status

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVER = Path(sys.executable).with_name("gradprobe-server")  # the console script, as in the images
PROFILE_CPU = ("--profile", "cpu")
SPEC: dict[str, Any] = {"model": {"type": "mlp", "depth": 2, "width": 8}, "train": {"steps": 10}}


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if not found:
        pytest.fail("docker-compose is not installed (apt-get install -y docker-compose)")
    return found


def resolved_config(tmp_path: Path) -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors merged, ${VAR:-default} filled in),
    with its defaults: no .env and no variable from this shell."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE), "--env-file", str(empty), *PROFILE_CPU, "config"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout))


def test_the_compose_file_validates() -> None:
    done = subprocess.run(
        [docker_compose(), "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_compose_file_has_the_deployment_of_the_contract(tmp_path: Path) -> None:
    services = resolved_config(tmp_path)["services"]
    assert services["redis"]["command"][1:3] == ["--appendonly", "yes"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("redis", "postgres", "api"):
        assert services[name]["healthcheck"]["test"], name
    gpus = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpus == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert services["worker-cpu"]["profiles"] == ["cpu"]


def test_every_setting_set_in_env_reaches_every_gradprobe_service(tmp_path: Path) -> None:
    """Any GRADPROBE_* variable of docs/configuration.md put in .env is passed on, but
    GRADPROBE_HOME, which the images set."""
    settings = {f"GRADPROBE_{name.upper()}" for name in Settings.model_fields} - {"GRADPROBE_HOME"}
    services = resolved_config(tmp_path)["services"]
    for name in ("migrate", "api", "worker-gpu", "worker-cpu"):
        assert set(services[name]["environment"]) - {"FORWARDED_ALLOW_IPS"} == settings, name


# --- the API image: what it installs covers what its commands import ----------------------


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution that pip installs for `requirements`, as installed here."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:  # a dependency for another platform or Python
            continue
        extras = {"", *req.extras}
        for line in requires:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return {key.split("[")[0] for key in seen}


FIRST_PARTY = ("gradprobe", "service", "worker")
LOADED = """
import json, sys
from fastapi.testclient import TestClient
from service.api.app import create_app
from service.cli import main  # the `migrate` and `keys` commands
from service.settings import Settings
from service.store.db import session_scope
from service.store.keys import create_key
from service.store.migrate import upgrade

s = Settings(home=sys.argv[1], database_url="", broker_url="")
upgrade(s.store_url)
with session_scope(s.store_url) as session:
    auth = {"Authorization": "Bearer " + create_key(session, "k").secret}
with TestClient(create_app(s)) as c:
    job = c.post("/v1/jobs", json={"model": {"type": "mlp", "depth": 3}}, headers=auth).json()
    for url in ("/v1/jobs", "/v1/jobs/" + job["id"], "/v1/presets", "/readyz", "/metrics"):
        c.get(url, headers=auth)
ours = [m for m in sys.modules.values() if m.__name__.split(".")[0] in sys.argv[2:]]
print(json.dumps(sorted(m.__file__ for m in ours if getattr(m, "__file__", None))))
"""


def _imported_names(source: Path) -> set[str]:
    """Top-level names of the absolute imports in a file, those inside functions too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(FIRST_PARTY) - {"__future__"}


def test_the_api_image_installs_what_its_commands_import(tmp_path: Path) -> None:
    """Every module of ours that the API, `migrate` and `keys` load imports only
    distributions that docker/api_requirements.py makes pip install (and never torch)."""
    script = [sys.executable, str(ROOT / "docker" / "api_requirements.py")]
    listed = subprocess.run(
        [*script, str(ROOT / "pyproject.toml")], capture_output=True, text=True, check=True
    ).stdout.split()
    installed = _closure(listed)
    assert "torch" not in installed
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(tmp_path), *FIRST_PARTY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    files = [Path(f) for f in json.loads(done.stdout.splitlines()[-1])]
    assert any(f.name == "app.py" for f in files), files
    providers = packages_distributions()
    for name in sorted(set().union(*map(_imported_names, files))):
        dists = {canonicalize_name(d) for d in providers.get(name, [])}
        assert dists, f"no installed distribution provides `{name}`"
        assert dists & installed, f"the API image lacks `{name}`: see docker/api_requirements.py"


# --- each service's command and environment, as plain processes ----------------------------


class Deployment:
    """The compose services as local processes, with the compose host names swapped for
    the servers started here."""

    def __init__(self, services: dict[str, Any], root: Path, hosts: dict[str, str]) -> None:
        self.services, self.root, self.hosts = services, root, hosts
        self.api_port = free_port()
        self.procs: list[Proc] = []

    def env(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADPROBE_")}
        for name, value in self.services[service]["environment"].items():
            if value is not None:  # a variable passed on only when set
                env[name] = self.here(str(value))
        env["GRADPROBE_HOME"] = str(self.root / "home")  # the images' ENV
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def here(self, value: str) -> str:
        for compose_host, local in self.hosts.items():
            value = value.replace(f"@{compose_host}/", f"@{local}/")
        return value

    def argv(self, command: list[str]) -> list[str]:
        """The command with the API's address swapped: --host 0.0.0.0 -> loopback, --port."""
        argv = [str(SERVER) if command[0] == "gradprobe-server" else command[0]]
        swap = {"--host": "127.0.0.1", "--port": str(self.api_port)}
        for prev, arg in itertools.pairwise(command):
            argv.append(swap.get(prev, arg))
        return argv

    def run(self, service: str, *command: str) -> str:
        """`docker compose run --rm SERVICE [COMMAND]`: to completion, its stdout."""
        argv = self.argv(list(command) or self.services[service]["command"])
        done = subprocess.run(
            argv, env=self.env(service), capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"{service}: {argv}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, service: str) -> Proc:
        argv = self.argv(self.services[service]["command"])
        proc = Proc(service, argv, self.env(service), self.root).start()
        self.procs.append(proc)
        return proc

    def healthy(self, service: str) -> bool:
        """The service's own health check, run here."""
        test = self.services[service]["healthcheck"]["test"]
        assert test[0] == "CMD", test
        argv = [sys.executable if test[1] == "python" else test[1], *test[2:]]
        argv = [a.replace("127.0.0.1:8000/", f"127.0.0.1:{self.api_port}/") for a in argv]
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0

    def wait_worker(self, proc: Proc) -> None:
        def ready() -> bool:
            if not proc.alive:
                pytest.fail(f"{proc.name} exited:\n{proc.output()[-3000:]}")
            return " ready." in proc.output()

        wait_for(ready, 120, f"{proc.name} to be ready", every_s=0.2)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in self.procs)


def _serve_as_compose_expects(env: dict[str, str], pg: Postgres, rd: Redis) -> None:
    """The servers started here take the compose file's users, passwords and database."""
    broker = urlsplit(env["GRADPROBE_BROKER_URL"])
    assert broker.port == rd.port, "GRADPROBE_BROKER_URL does not name the host `redis`"
    redis.Redis(port=rd.port).config_set("requirepass", broker.password or "")
    store = make_url(env["GRADPROBE_DATABASE_URL"])
    assert store.port == pg.port, "GRADPROBE_DATABASE_URL does not name the host `postgres`"
    admin = f"host=127.0.0.1 port={pg.port} user=gp dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        db, user = sql.Identifier(str(store.database)), sql.Identifier(str(store.username))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(db))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(user))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(user, sql.Literal(store.password))
        )
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, user))


@pytest.fixture
def deployment(tmp_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[Deployment]:
    services = resolved_config(tmp_path)["services"]
    hosts = {"redis:6379": f"127.0.0.1:{redis_server.port}"}
    hosts["postgres:5432"] = f"127.0.0.1:{postgres.port}"
    d = Deployment(services, tmp_path, hosts)
    _serve_as_compose_expects(d.env("api"), postgres, redis_server)
    yield d
    d.stop_all()
    print(d.logs())


def test_each_compose_service_runs_a_job_as_a_plain_process(deployment: Deployment) -> None:
    d = deployment
    assert "migrated" in d.run("migrate")
    key = d.run("api", "gradprobe-server", "keys", "create", "--name", "x").splitlines()[-1]
    api = d.start("api")
    wait_for(lambda: d.healthy("api") or not api.alive, 60, "the api's health check")
    assert api.alive, api.output()[-3000:]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{d.api_port}", headers=headers) as http:
        # worker-gpu: a job with device "auto" goes to the gpu queue (GRADPROBE_DEFAULT_QUEUE)
        gpu_worker = d.start("worker-gpu")
        d.wait_worker(gpu_worker)
        r = http.post("/v1/jobs", json=SPEC)
        assert r.status_code == 202, r.text
        job = wait_status(http, r.json()["id"], ("succeeded", "failed"), 120)
        assert (job["status"], job["queue"]) == ("succeeded", "gpu"), job
        gpu_worker.stop()

        # worker-cpu (profile cpu) reads only the cpu queue: a cpu job runs, an auto one waits
        d.wait_worker(d.start("worker-cpu"))
        waiting = http.post("/v1/jobs", json=SPEC).json()["id"]
        spec = {**SPEC, "train": {**SPEC["train"], "device": "cpu"}}
        r = http.post("/v1/jobs", json=spec)
        assert r.status_code == 202, r.text
        job = wait_status(http, r.json()["id"], ("succeeded", "failed"), 120)
        assert (job["status"], job["queue"]) == ("succeeded", "cpu"), job
        assert http.get(f"/v1/jobs/{waiting}").json()["status"] == "queued"
