"""The OpenAPI document: the spec models as request bodies, problems as problem+json.

Spec bodies are read by `deps.json_object` rather than by FastAPI (so that a bad field is
reported with the spec's own clean JSON path); `SPEC_BODY` declares them anyway, pointing
at the JobSpec schema that `build_openapi` adds to the components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from gradprobe.api import StudyCreate
from gradprobe.spec import JobSpec
from service.api.problems import MEDIA_TYPE

REF = "#/components/schemas/{model}"
SPEC_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A job spec (PRODUCT.md section 2); every field but `model` has a default.",
        "content": {"application/json": {"schema": {"$ref": REF.format(model="JobSpec")}}},
    }
}


def _spec_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in (JobSpec, StudyCreate):  # bodies read by deps.json_object
        schema = TypeAdapter(model).json_schema(mode="validation", ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _problems_as_problem_json(paths: dict[str, Any]) -> None:
    for operations in paths.values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # The result document embeds the spec, so FastAPI has already added these models in
        # their serialization form; the validation form (no unknown keys) serves both ways.
        components.update(_spec_schemas())
        _problems_as_problem_json(schema.get("paths", {}))
        app.openapi_schema = schema
    return app.openapi_schema
