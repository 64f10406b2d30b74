"""`POST /v1/specs/validate` (a dry run) and `GET /v1/presets` (named specs)."""

from __future__ import annotations

from fastapi import APIRouter

from gradprobe.api import PlannedLayer, PlanView, PresetList
from service.api.deps import BodyDep, SettingsDep, TenantDep
from service.api.openapi import SPEC_BODY
from service.api.planning import plan_posted
from service.api.problems import responses
from service.presets import presets

router = APIRouter(prefix="/v1", tags=["specs"])


@router.post(
    "/specs/validate",
    response_model=PlanView,
    responses=responses(401, 413, 422, 429),
    openapi_extra=SPEC_BODY,
    summary="Check a spec without running it",
)
def validate_spec(_tenant: TenantDep, body: BodyDep, settings: SettingsDep) -> PlanView:
    """The expanded layers with their shapes, parameters and FLOPs, the estimated activation
    memory, or a 422 problem naming each bad field. Nothing is stored or queued."""
    plan = plan_posted(body, settings.caps())
    layers = [
        PlannedLayer(
            name=la.name,
            op=la.op,
            inputs=list(la.inputs),
            shape=list(la.shape),
            params=la.params,
            flops=la.flops,
        )
        for la in plan.layers
    ]
    return PlanView(
        spec=plan.spec.model_dump(mode="json"),
        layers=layers,
        output=plan.output,
        params=plan.params,
        flops=plan.flops,
        activation_bytes=plan.activation_bytes,
    )


@router.get(
    "/presets", response_model=PresetList, responses=responses(401, 429), summary="Named specs"
)
def list_presets(_tenant: TenantDep) -> PresetList:
    """Every example spec, and the ready studies (`POST /v1/studies` takes each as it is)."""
    return PresetList(items=presets())
