"""Health, readiness, metrics, the problem format of HTTP errors, the body limit, OpenAPI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from service.api.app import create_app
from service.api.bodylimit import BodyLimit
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import beat

Headers = dict[str, str]


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_names_the_missing_worker(client: TestClient, settings: Settings) -> None:
    r = client.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:gradprobe:problem:not-ready"
    assert "workers" in problem["detail"] and "store" not in problem["detail"]
    assert problem["checks"]["workers"]["ok"] is False
    assert problem["checks"]["store"]["ok"] is problem["checks"]["broker"]["ok"] is True
    with session_scope(settings.store_url) as session:
        beat(session, "worker-1", "cpu")
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["checks"]["workers"]["detail"].startswith("1 seen")


def test_readyz_names_an_unreachable_store_and_broker(
    home: Path, make_settings: Callable[..., Settings]
) -> None:
    s = make_settings(
        home,
        database_url=f"sqlite:///{home / 'no' / 'such' / 'folder' / 'x.db'}",
        broker_url="redis://127.0.0.1:1/0",
    )
    with TestClient(create_app(s)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert not checks["store"]["ok"] and not checks["broker"]["ok"] and not checks["workers"]["ok"]
    assert all(name in r.json()["detail"] for name in ("store", "broker", "workers"))


def test_metrics_count_requests_by_route_template(
    client: TestClient, alice: Headers, finished_job: str
) -> None:
    client.get(f"/v1/jobs/{finished_job}", headers=alice)
    client.get(f"/v1/jobs/{finished_job}", headers=alice)
    client.get("/v1/jobs/job_unknown", headers=alice)
    client.get("/no/such/route")
    text = client.get("/metrics").text
    assert (
        'gradprobe_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="200"} 2.0'
        in text
    )
    assert (
        'gradprobe_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="404"} 1.0'
        in text
    )
    assert 'route="<unmatched>",status="404"' in text and "job_unknown" not in text
    assert 'gradprobe_http_request_duration_seconds_count{method="GET",route="/v1/jobs"' not in text
    assert 'gradprobe_jobs_submitted_total{queue="cpu"} 1.0' in text
    assert 'gradprobe_jobs{status="succeeded"} 1.0' in text
    assert 'gradprobe_jobs{status="queued"} 0.0' in text


def test_job_counts_are_read_from_the_store_at_scrape_time(
    client: TestClient, submit: Callable[..., dict[str, Any]]
) -> None:
    submit()
    submit()
    assert 'gradprobe_jobs{status="queued"} 2.0' in client.get("/metrics").text


def test_unknown_routes_and_methods_are_problems(client: TestClient, alice: Headers) -> None:
    r = client.get("/v2/nothing", headers=alice)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "instance": "/v2/nothing",
    }
    r = client.put("/v1/jobs", headers=alice)
    assert r.status_code == 405 and r.json()["title"] == "Method Not Allowed"
    assert "POST" in r.headers["allow"]


def _limited(home: Path, make_settings: Callable[..., Settings]) -> TestClient:
    return TestClient(create_app(make_settings(home, max_body_bytes=2048)))


def test_a_declared_body_over_the_limit_is_413(
    home: Path, make_settings: Callable[..., Settings], new_key: Callable[[Settings, str], str]
) -> None:
    s = make_settings(home, max_body_bytes=2048)
    auth = {"Authorization": f"Bearer {new_key(s, 'k')}"}
    body = b'{"name": "' + b"x" * 3000 + b'", "model": {"type": "mlp"}}'
    with TestClient(create_app(s)) as c:
        r = c.post("/v1/jobs", content=body, headers={**auth, "content-type": "application/json"})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:gradprobe:problem:body-too-large"
        assert "2,048" in r.json()["detail"]
        # Without credentials too: the size is checked before anything else.
        assert c.post("/v1/specs/validate", content=body).status_code == 413
        small = c.post("/v1/specs/validate", json={"model": {"type": "mlp"}}, headers=auth)
        assert small.status_code == 200


def test_a_chunked_body_over_the_limit_is_413(
    home: Path, make_settings: Callable[..., Settings], new_key: Callable[[Settings, str], str]
) -> None:
    s = make_settings(home, max_body_bytes=2048)
    auth = {"Authorization": f"Bearer {new_key(s, 'k')}"}

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'", "model": {"type": "mlp"}}'

    with TestClient(create_app(s)) as c:
        r = c.post("/v1/jobs", content=chunks(), headers=auth)
        assert "content-length" not in r.request.headers
        assert r.status_code == 413 and r.json()["status"] == 413
        assert c.get("/v1/jobs", headers=auth).json()["items"] == []


def test_the_body_limit_stops_reading_a_stream_that_grows_past_it() -> None:
    """Pure ASGI: the app keeps asking for more, the client keeps sending; the middleware
    reads no more than the limit plus one chunk."""
    pulled = 0
    sent: list[Message] = []

    async def endless() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass

    async def collect(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/jobs", "headers": []}
    asyncio.run(BodyLimit(reader, max_bytes=4096)(scope, endless, collect))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled == 5


def test_openapi_declares_models_and_problems(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    post = schema["paths"]["/v1/jobs"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/JobSpec"}
    assert "JobSpec" in schema["components"]["schemas"]
    assert "MlpModel" in schema["components"]["schemas"]
    assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/JobView"
    )
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    assert list(answer["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )
    job_get = schema["paths"]["/v1/jobs/{job_id}"]["get"]
    assert {"401", "404", "429"} <= set(job_get["responses"])
    assert job_get["security"] == [{"HTTPBearer": []}]


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/presets"])
def test_problems_carry_the_request_path(client: TestClient, path: str) -> None:
    assert client.get(path).json()["instance"] == path


def test_a_bug_is_a_bare_500_problem(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The last resort: no trace or message in the answer, the details in the log."""

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:gradprobe:problem:internal"
    assert "secret internals" not in r.text
    assert "secret internals" in caplog.text


def test_openapi_declares_the_headers_of_202_401_and_429(client: TestClient) -> None:
    post = client.get("/openapi.json").json()["paths"]["/v1/jobs"]["post"]["responses"]
    assert {"Location", "Idempotent-Replayed"} <= set(post["202"]["headers"])
    assert "WWW-Authenticate" in post["401"]["headers"]
    assert "Retry-After" in post["429"]["headers"]
