"""`client.specs` (the dry run) and `client.presets` (named specs and studies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradprobe.api import PlanView, PresetList
from gradprobe.client import _endpoints as ep

if TYPE_CHECKING:
    from gradprobe.client.client import AsyncClient, Client


class Specs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def validate(self, spec: ep.SpecLike) -> PlanView:
        """The plan (layers, parameters, FLOPs, memory) without queuing anything; raises
        `ValidationError` naming each bad field (`err.paths == ["$.model.depth"]`)."""
        return ep.parse(PlanView, self._client._send(ep.validate_spec(spec)))


class AsyncSpecs:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def validate(self, spec: ep.SpecLike) -> PlanView:
        """As `Specs.validate`."""
        return ep.parse(PlanView, await self._client._send(ep.validate_spec(spec)))


class Presets:
    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> PresetList:
        """Named specs (`kind: "spec"`) and ready studies (`kind: "study"`)."""
        return ep.parse(PresetList, self._client._send(ep.list_presets()))


class AsyncPresets:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> PresetList:
        """As `Presets.list`."""
        return ep.parse(PresetList, await self._client._send(ep.list_presets()))
