"""`gradprobe-server up`: the API and one worker on this machine, with no other server.

SQLite and the filesystem broker live under $GRADPROBE_HOME. On the first start a key is
created and printed (it is stored hashed, so later starts cannot print it again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import func, select

from service.settings import get_settings
from service.store.db import session_scope
from service.store.keys import create_key
from service.store.migrate import upgrade
from service.store.models import ApiKey


def _first_key(url: str) -> str | None:
    with session_scope(url) as session:
        if session.scalar(select(func.count()).select_from(ApiKey)):
            return None
        return create_key(session, "default").secret


def up(host: str, port: int) -> int:
    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRADPROBE_HOME": str(s.home.resolve())}
    os.environ["GRADPROBE_HOME"] = env["GRADPROBE_HOME"]
    upgrade(s.store_url)
    secret = _first_key(s.store_url)
    env["GRADPROBE_EMBEDDED_PARENT"] = str(os.getpid())  # the worker leaves when `up` dies
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"], env=env, start_new_session=True
    )
    url = f"http://{host}:{port}"
    print(f"gradprobe is up at {url}  (docs: {url}/docs, data: {s.home.resolve()})", flush=True)
    if secret:
        print(f"your API key (shown once): {secret}", flush=True)
        print(f"  export GRADPROBE_URL={url} GRADPROBE_API_KEY={secret}", flush=True)
    else:
        print("keys: use yours, or `gradprobe-server keys create --name NAME`", flush=True)
    try:
        import uvicorn

        uvicorn.run("service.api.app:create_app", factory=True, host=host, port=port)
    finally:
        _stop(worker)
    return 0


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker and its pool (a running job ends and is re-run at the next
    start), then SIGKILL to whatever is left after 30 s."""
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    except ProcessLookupError:
        pass
