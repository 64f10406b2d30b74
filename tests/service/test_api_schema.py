"""A bounded schemathesis run against the app's own OpenAPI document: for generated requests
to every operation, no 5xx, and every response (status, content type, headers, body) as the
document declares it. Derandomised, so that CI sees the same cases each run."""

from __future__ import annotations

import schemathesis

from service.api.app import create_app
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import beat
from tests.conformance import check_every_operation


def test_responses_conform_to_the_openapi_document(
    settings: Settings, alice: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))

    def live_worker() -> None:  # so that /readyz may answer 200
        with session_scope(settings.store_url) as session:
            beat(session, "worker-1", "cpu")

    assert check_every_operation(schema, 25, live_worker, headers=alice) == 18
