"""The job spec (what a user posts) and the resource caps a deployment enforces."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gradprobe.spec.common import Strict
from gradprobe.spec.data import AddingData, CopyData, DataSpec, DigitsData, TeacherData
from gradprobe.spec.families import (
    CnnModel,
    DensenetModel,
    MlpModel,
    RnnModel,
    TransformerModel,
    UnetModel,
)
from gradprobe.spec.graph import GraphModel
from gradprobe.spec.probe import ProbeSpec
from gradprobe.spec.train import TrainSpec

ModelSpec = Annotated[
    MlpModel | CnnModel | UnetModel | DensenetModel | RnnModel | TransformerModel | GraphModel,
    Field(discriminator="type"),
]

# The data a family gets when the spec names none.
DEFAULT_DATA: dict[str, dict[str, Any]] = {
    "mlp": TeacherData().model_dump(),
    "graph": TeacherData().model_dump(),
    "cnn": DigitsData().model_dump(),
    "densenet": DigitsData().model_dump(),
    "unet": DigitsData(task="denoise").model_dump(),
    "rnn": AddingData().model_dump(),
    "transformer": CopyData().model_dump(),
}


class JobSpec(Strict):
    name: str = Field("", max_length=200)
    model: ModelSpec
    data: DataSpec = TeacherData()
    train: TrainSpec = TrainSpec()
    probe: ProbeSpec = ProbeSpec()

    @model_validator(mode="before")
    @classmethod
    def _family_default_data(cls, raw: Any) -> Any:
        """A spec without `data` gets the data its model family is usually studied on."""
        if isinstance(raw, dict) and "data" not in raw and isinstance(raw.get("model"), dict):
            family = raw["model"].get("type")
            if family in DEFAULT_DATA:
                return {**raw, "data": DEFAULT_DATA[family]}
        return raw


class Caps(BaseModel):
    """Per-job resource limits, checked before anything runs. Deployments set their own."""

    model_config = ConfigDict(frozen=True)

    max_parameters: int = 50_000_000
    max_activation_bytes: int = 4 * 2**30
    max_steps: int = 100_000
    max_seq_len: int = 4096
    max_samples: int = 1_000_000
    max_nodes: int = 5000
    max_upload_bytes: int = 16 * 2**20


__all__ = ["DEFAULT_DATA", "Caps", "CopyData", "JobSpec", "ModelSpec"]
