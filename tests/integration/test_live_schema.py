"""A bounded schemathesis run against the live OpenAPI document: the real API under uvicorn,
a real worker, Redis and PostgreSQL. No 5xx, and every response as the document declares."""

from __future__ import annotations

import schemathesis

from tests.conformance import check_every_operation
from tests.integration.harness import Service


def test_the_live_api_conforms_to_its_openapi_document(service: Service) -> None:
    # Generated specs may be large: cap what a job may cost, so the worker stays responsive.
    service.env.update(GRADPROBE_MAX_STEPS="50", GRADPROBE_MAX_PARAMETERS="200000")
    service.env.update(GRADPROBE_RATE_PER_S="1000", GRADPROBE_RATE_BURST="1000")
    service.start_api()
    service.wait_worker_ready(service.start_worker())  # so that /readyz can answer 200
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    auth = {"Authorization": f"Bearer {service.key}"}
    assert check_every_operation(schema, 15, base_url=service.url, headers=auth) >= 10
