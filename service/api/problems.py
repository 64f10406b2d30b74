"""One error shape for every error: RFC 9457 `application/problem+json`.

Routes raise `ApiError`; the handlers here turn it, Starlette's HTTPException (unknown
route, wrong method), FastAPI's validation errors and the spec's SpecError into a problem
document, and anything else into a bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gradprobe.api import Problem, ProblemError
from gradprobe.errors import SpecError, json_path

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:gradprobe:problem:"


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


class ApiError(HTTPException):
    """An error a route raises on purpose; `slug` names its problem type (docs/api.md)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: Sequence[ProblemError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, detail, headers)
        self.slug = slug
        self.errors = list(errors) if errors is not None else None
        self.extra = extra


def problem(
    instance: str,
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: Sequence[ProblemError] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body = Problem(
        type=TYPE_PREFIX + slug if slug else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors) if errors is not None else None,
        **extra,
    )
    return ProblemResponse(
        body.model_dump(mode="json", exclude_none=True), status, dict(headers or {})
    )


def bad_input(path: str, message: str, type: str = "value_error") -> ProblemError:
    return ProblemError(path=path, message=message, type=type)


def _validation_path(loc: Sequence[str | int]) -> str:
    """Body fields as a JSON path relative to the body ("$.model.depth"); query parameters
    and headers as "query.limit", "header.idempotency-key"."""
    where, rest = (loc[0], loc[1:]) if loc else ("body", ())
    if where == "body":
        return json_path(rest)
    return ".".join(str(part) for part in (where, *rest))


def _validation_error(error: dict[str, Any]) -> ProblemError:
    if error["type"] == "json_invalid":  # loc is ("body", character offset)
        cause = error.get("ctx", {}).get("error", "")
        return bad_input("$", f"not valid JSON: {cause}", "json_invalid")
    return bad_input(_validation_path(error["loc"]), error["msg"], error["type"])


async def _api_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ApiError)
    return problem(
        request.url.path,
        exc.status_code,
        exc.detail,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if exc.detail != phrase else None
    return problem(request.url.path, exc.status_code, detail, headers=exc.headers)


async def _request_invalid(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_error(e) for e in exc.errors()]
    return problem(
        request.url.path, 422, "the request is not valid", slug="invalid-request", errors=errors
    )


async def _spec_invalid(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, SpecError)
    errors = [bad_input(e.path, e.message, e.type) for e in exc.errors]
    return problem(
        request.url.path, 422, "the spec is not valid", slug="invalid-spec", errors=errors
    )


async def _internal(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(request.url.path, 500, "an internal error; it has been logged", slug="internal")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(SpecError, _spec_invalid)
    app.add_exception_handler(Exception, _internal)


HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problems a route may answer (see openapi.py)."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            **({"headers": HEADERS[status]} if status in HEADERS else {}),
        }
        for status in statuses
    }
