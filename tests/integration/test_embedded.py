"""`gradprobe-server up`: the embedded default (SQLite, filesystem broker, one worker)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx

from tests.integration.harness import Proc, free_port, wait_for, wait_status
from tests.integration.specs import family_spec

KEY = re.compile(r"your API key \(shown once\): (gp_\S+)")


def _up(tmp_path: Path, port: int, name: str) -> Proc:
    env = {**os.environ, "GRADPROBE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("GRADPROBE_DATABASE_URL", None)
    env.pop("GRADPROBE_BROKER_URL", None)
    argv = [sys.executable, "-m", "service.cli", "up", "--port", str(port)]
    return Proc(name, argv, env, tmp_path).start()


def test_up_serves_jobs_with_no_other_server(tmp_path: Path) -> None:
    port = free_port()
    up = _up(tmp_path, port, "up-1")
    try:
        key = wait_for(lambda: KEY.search(up.output()), 60, "the printed API key").group(1)
        assert f"http://127.0.0.1:{port}" in up.output()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            wait_for(lambda: _answers(http), 60, "the API")
            assert http.get("/docs").status_code == 200
            job_id = http.post("/v1/jobs", json=family_spec("mlp")).json()["id"]
            job = wait_status(http, job_id, ("succeeded", "failed"), 120)
            assert job["status"] == "succeeded", job.get("error")
            assert http.get(f"/v1/jobs/{job_id}/stats").json()["steps"][-1] == 20
            wait_for(lambda: http.get("/readyz").status_code == 200, 30, "readyz")
            assert up.popen is not None and _workers_of(up.popen.pid)  # the check sees it
    finally:
        up.stop()
    assert up.popen is not None
    wait_for(lambda: not _workers_of(up.popen.pid), 60, "the embedded worker to exit with `up`")
    stored = [f for f in (tmp_path / "home").rglob("*") if f.is_file()]
    assert stored and not any(key.encode() in f.read_bytes() for f in stored)  # hashed only
    assert up.output().count(key) == 2  # printed once (and in the export line), never logged
    again = _up(tmp_path, port, "up-2")
    try:
        wait_for(lambda: "keys: use yours" in again.output(), 60, "the second start")
        assert not KEY.search(again.output())
        again.kill()  # even a kill -9 of `up` leaves no worker behind
        assert again.popen is not None
        wait_for(lambda: not _workers_of(again.popen.pid), 60, "the orphaned worker to exit")
    finally:
        again.stop()


def _workers_of(parent: int) -> list[int]:
    """Pids of live processes started by the `up` process `parent` (by their environment)."""
    marker = f"GRADPROBE_EMBEDDED_PARENT={parent}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            mine = marker in (proc / "environ").read_bytes().split(b"\0")
            zombie = b" Z " in (proc / "stat").read_bytes().split(b")")[-1][:3]
            if mine and not zombie:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
