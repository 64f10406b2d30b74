"""The API process never imports torch: build the app and use it in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from fastapi.testclient import TestClient
    from service.api.app import create_app
    from service.settings import Settings
    from service.store.db import session_scope
    from service.store.keys import create_key
    from service.store.migrate import upgrade

    s = Settings(home=sys.argv[1], database_url="", broker_url="")
    upgrade(s.store_url)
    with session_scope(s.store_url) as session:
        auth = {"Authorization": "Bearer " + create_key(session, "k").secret}
    spec = {"model": {"type": "mlp", "depth": 3}}
    with TestClient(create_app(s)) as c:
        job = c.post("/v1/jobs", json=spec, headers=auth)
        assert job.status_code == 202, job.text
        for method, url, status in [
            ("POST", "/v1/specs/validate", 200),
            ("GET", "/v1/presets", 200),
            ("GET", "/v1/jobs", 200),
            ("GET", "/v1/jobs/" + job.json()["id"], 200),
            ("GET", "/v1/jobs/" + job.json()["id"] + "/stats", 409),
            ("GET", "/readyz", 503),
            ("GET", "/metrics", 200),
            ("GET", "/openapi.json", 200),
        ]:
            assert c.request(method, url, json=spec, headers=auth).status_code == status, url
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "worker"))
    print("imported:", heavy)
    assert not heavy
    """
)


def test_the_api_never_imports_torch(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported: []" in done.stdout
