"""The bounded schemathesis run shared by the in-process and the live API tests: for each
operation, derandomised generated requests; no 5xx, and every response (status, content
type, headers, body) as the OpenAPI document declares it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, given, settings

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def check_every_operation(
    schema: schemathesis.BaseSchema,
    examples: int,
    before_each: Callable[[], None] = lambda: None,
    **call: Any,
) -> int:
    """Run `examples` cases of each operation (call_and_validate with `call`); returns how
    many operations the document has."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        before_each()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(checks=CHECKS, **call)

        conforms()
    return len(operations)
