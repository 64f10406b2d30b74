"""A bounded schemathesis run against the app's own OpenAPI document: for generated requests
to every operation, no 5xx, and every response (status, content type, headers, body) as the
document declares it. Derandomised, so that CI sees the same cases each run."""

from __future__ import annotations

from typing import Any

import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, given
from hypothesis import settings as bounded

from service.api.app import create_app
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import beat

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def test_responses_conform_to_the_openapi_document(
    settings: Settings, alice: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 18

    for operation in operations:
        with session_scope(settings.store_url) as session:
            beat(session, "worker-1", "cpu")  # a live worker, so that /readyz may answer 200

        @given(case=operation.as_strategy())
        @bounded(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=alice, checks=CHECKS)

        conforms()
