"""A bounded schemathesis run against the live OpenAPI document: the real API under uvicorn,
a real worker, Redis and PostgreSQL. No 5xx, and every response as the document declares."""

from __future__ import annotations

from typing import Any

import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, given, settings

from tests.integration.harness import Service

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def test_the_live_api_conforms_to_its_openapi_document(service: Service) -> None:
    # Generated specs may be large: cap what a job may cost, so the worker stays responsive.
    service.env.update(GRADPROBE_MAX_STEPS="50", GRADPROBE_MAX_PARAMETERS="200000")
    service.env.update(GRADPROBE_RATE_PER_S="1000", GRADPROBE_RATE_BURST="1000")
    service.start_api()
    service.wait_worker_ready(service.start_worker())  # so that /readyz can answer 200
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    auth = {"Authorization": f"Bearer {service.key}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(base_url=service.url, headers=auth, checks=CHECKS)

        conforms()
