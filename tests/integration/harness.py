"""Real servers and processes for the integration tests: Redis, PostgreSQL, the API under
uvicorn and Celery workers, each started as its own process and stopped (or killed) on
demand. Nothing here is mocked. A missing server binary fails the test: it never skips.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")
CLI = [sys.executable, "-m", "service.cli"]


def wait_for(
    check: Callable[[], T | None], deadline_s: float, what: str, every_s: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy, or fail naming `what`."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def binary(name: str, *globs: str) -> str:
    found = shutil.which(name) or next(
        (p for g in globs for p in sorted(glob.glob(g), reverse=True)), None
    )
    if not found:
        pytest.fail(
            f"{name} is not installed: the integration tests need the real server "
            "(apt-get install -y redis-server postgresql, or `make servers`)"
        )
    return found


class Proc:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = logs / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """kill -9 of the whole process group (a worker's pool children too)."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def stop(self, timeout_s: float = 20) -> None:
        if not self.alive:
            return
        assert self.popen is not None
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Redis:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / f"redis-{self.port}"
        self.dir.mkdir(parents=True)
        exe = binary("redis-server", "/usr/bin/redis-server")
        argv = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = Proc(f"redis-{self.port}", argv, dict(os.environ), root)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.proc.start()
        wait_for(lambda: listening(self.port), 20, f"redis on {self.port}")
        return self

    def stop(self) -> None:
        self.proc.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def llen(self, queue: str) -> int:
        import redis

        return int(redis.Redis(port=self.port).llen(queue))


class Postgres:
    """A private PostgreSQL cluster in a temporary folder (run as `postgres` when root)."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: `postgres` must be able to reach it, and tmp_path's
        # parents are private to root.
        self.dir = Path(tempfile.mkdtemp(prefix="gradprobe-pg-")) / "data"
        self.bin = Path(binary("initdb", "/usr/lib/postgresql/*/bin/initdb")).parent
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.databases = 0

    def _run(self, *argv: str) -> None:
        subprocess.run(
            [*self.as_user, *argv],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            timeout=120,
        )

    def start(self) -> Postgres:
        if not self.dir.exists():
            self.dir.mkdir()
            self.dir.parent.chmod(0o777)
            if self.as_user:
                shutil.chown(self.dir, "postgres", "postgres")
                self.dir.chmod(0o700)
            self._run(str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "gp")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.dir.parent / "postgres.log")  # and no pipes: the server outlives pg_ctl
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", log, "-o", opts, "-w", "start"
        )
        return self

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.dir.parent, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh empty database's SQLAlchemy URL."""
        import psycopg

        self.databases += 1
        name = f"gp{self.databases}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=gp dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://gp@127.0.0.1:{self.port}/{name}"


class Service:
    """One deployment: an environment (store, broker, home) and its processes."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "GRADPROBE_HOME": str(self.home),
            "GRADPROBE_LEASE_S": "3",
            "GRADPROBE_SWEEP_S": "1",
            "GRADPROBE_REPUBLISH_AFTER_S": "30",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.api_port = free_port()
        self.procs: list[Proc] = []
        self.key = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def migrate(self) -> None:
        self.cli("migrate")

    def create_key(self, name: str = "test") -> str:
        return self.cli("keys", "create", "--name", name).strip().splitlines()[-1]

    def start_api(self) -> Proc:
        argv = [*CLI, "api", "--port", str(self.api_port)]
        proc = Proc(f"api-{len(self.procs)}", argv, self.env, self.root).start()
        self.procs.append(proc)
        wait_for(lambda: self._healthy(proc), 60, "the API's /healthz")
        return proc

    def _healthy(self, proc: Proc) -> bool:
        if not proc.alive:
            pytest.fail(f"the API exited:\n{proc.output()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, **env: str) -> Proc:
        argv = [*CLI, "worker", "--loglevel", "INFO"]
        extra = {f"GRADPROBE_{k.upper()}": v for k, v in env.items()}
        proc = Proc(f"worker-{len(self.procs)}", argv, {**self.env, **extra}, self.root)
        self.procs.append(proc.start())
        return proc

    def wait_worker_ready(self, proc: Proc, deadline_s: float = 120) -> None:
        def ready() -> bool:
            if not proc.alive:
                pytest.fail(f"the worker exited:\n{proc.output()[-3000:]}")
            return " ready." in proc.output()

        wait_for(ready, deadline_s, f"{proc.name} to be ready", every_s=0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in self.procs)


def job_status(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_status(
    client: httpx.Client, job_id: str, statuses: tuple[str, ...], deadline_s: float = 120
) -> dict[str, Any]:
    return wait_for(
        lambda: (j := job_status(client, job_id))["status"] in statuses and j,
        deadline_s,
        f"job {job_id} to become {'/'.join(statuses)}",
        every_s=0.05,
    )
