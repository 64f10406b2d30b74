"""Error answers become exceptions carrying status, problem and request id; which requests
may be sent twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gradprobe.client import (
    ApiError,
    AuthError,
    BadRequest,
    GradprobeError,
    NotFound,
    ServerError,
    ValidationError,
)
from gradprobe.client._config import ClientConfig
from gradprobe.client._transport import Call, TransportCore
from gradprobe.client.errors import error_from_response
from tests.client.conftest import Server
from tests.client.factories import problem

BAD_DEPTH = {"path": "$.model.depth", "message": "Input should be >= 1", "type": "greater_than"}


def test_a_422_is_a_validation_error_naming_each_path(client: Any, server: Server) -> None:
    bad = problem(422, "invalid-spec", "the spec is not valid", errors=[BAD_DEPTH])
    server.on("POST", "/v1/specs/validate", bad)
    with pytest.raises(ValidationError) as caught:
        client.specs.validate({"model": {"type": "mlp", "depth": 0}})
    err = caught.value
    assert isinstance(err, BadRequest) and isinstance(err, ApiError)
    assert isinstance(err, GradprobeError)
    assert err.status == 422 and err.paths == ["$.model.depth"]
    assert err.problem is not None and err.problem.type == "urn:gradprobe:problem:invalid-spec"
    assert "$.model.depth: Input should be >= 1" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequest), (401, AuthError), (403, AuthError), (404, NotFound), (405, BadRequest),
     (413, BadRequest), (500, ServerError), (503, ServerError)],
)  # fmt: skip
def test_status_to_class(status: int, cls: type[ApiError]) -> None:
    err = error_from_response(problem(status, "x", "why"))
    assert type(err) is cls and err.status == status and err.detail == "why"


def test_request_id_and_a_body_that_is_not_a_problem() -> None:
    response = httpx.Response(502, text="<html>bad gateway</html>", headers={"x-request-id": "r1"})
    err = error_from_response(response)
    assert isinstance(err, ServerError) and err.problem is None and err.request_id == "r1"
    assert err.errors == [] and "bad gateway" in str(err) and err.type == "about:blank"


def test_unknown_problem_fields_are_kept() -> None:
    err = error_from_response(problem(503, "not-ready", "store down", checks={"store": {}}))
    assert err.problem is not None and err.problem.model_extra == {"checks": {"store": {}}}


def core() -> TransportCore:
    return TransportCore(ClientConfig.resolve("http://gp.test", "k"))


def test_a_post_is_retried_only_when_safe() -> None:
    plain = Call("POST", "/v1/things")
    safe = Call("POST", "/v1/jobs", replayable=True)
    read_timeout = httpx.ReadTimeout("the server may have acted")
    not_sent = httpx.ConnectError("refused")
    assert core().retry_delay(plain, 1, httpx.Response(503)) is None
    assert core().retry_delay(plain, 1, read_timeout) is None
    assert core().retry_delay(plain, 1, not_sent) is not None  # nothing reached the server
    assert core().retry_delay(safe, 1, httpx.Response(503)) is not None
    assert core().retry_delay(safe, 1, read_timeout) is not None
    assert core().retry_delay(Call("DELETE", "/v1/jobs/x"), 1, read_timeout) is not None


def test_requests_are_built_once_with_the_call_headers() -> None:
    call = Call("POST", "/v1/jobs", json={"a": 1}, headers={"Idempotency-Key": "k1"})
    request = core().build(call)
    assert request.headers["idempotency-key"] == "k1"
    assert request.headers["authorization"] == "Bearer k"
    assert request.read() == b'{"a":1}' or request.read() == b'{"a": 1}'
