"""The spec: what a user posts (PRODUCT.md section 2)."""

from gradprobe.spec.common import ACTIVATIONS, Activation, InitSpec
from gradprobe.spec.data import (
    AddingData,
    CopyData,
    DataSpec,
    DigitsData,
    TeacherData,
    UploadData,
)
from gradprobe.spec.families import (
    CnnModel,
    DensenetModel,
    MlpModel,
    RnnModel,
    TransformerModel,
    UnetModel,
)
from gradprobe.spec.graph import GraphModel, GraphNodeSpec, PrimitiveNode
from gradprobe.spec.job import Caps, JobSpec, ModelSpec
from gradprobe.spec.probe import ProbeSpec
from gradprobe.spec.train import ClipSpec, OptimizerSpec, ScheduleSpec, TrainSpec

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "AddingData",
    "Caps",
    "ClipSpec",
    "CnnModel",
    "CopyData",
    "DataSpec",
    "DensenetModel",
    "DigitsData",
    "GraphModel",
    "GraphNodeSpec",
    "InitSpec",
    "JobSpec",
    "MlpModel",
    "ModelSpec",
    "OptimizerSpec",
    "PrimitiveNode",
    "ProbeSpec",
    "RnnModel",
    "ScheduleSpec",
    "TeacherData",
    "TrainSpec",
    "TransformerModel",
    "UnetModel",
    "UploadData",
]
