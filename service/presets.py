"""Named specs served by `GET /v1/presets`: every spec in service/preset_specs/ (examples/
links to them), and the five remedies of PRODUCT.md section 1 as one ready study.

The specs are package data, so a non-editable install and the slim API image carry them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from gradprobe.api import Preset, SpecPreset, StudyPreset, StudyVariant

FOLDER = "preset_specs"

# The five remedies as (preset, remedy it shows, the preset it is compared with).
FIVE_REMEDIES: list[tuple[str, str, str | None]] = [
    ("plain-deep-mlp", "none: a deep sigmoid MLP, y = f(Wx + b)", None),
    ("batchnorm-mlp", "batch normalisation", "plain-deep-mlp"),
    ("residual-mlp", "residual connections, y = F(x) + x", "plain-deep-mlp"),
    ("unet-no-skips", "none: an encoder-decoder without long skips", None),
    ("unet-skips", "long skip connections (U-Net)", "unet-no-skips"),
    ("rnn-tanh", "none: a vanilla tanh RNN", None),
    ("lstm", "a gated recurrent cell (LSTM)", "rnn-tanh"),
]


@lru_cache(maxsize=1)
def spec_documents() -> dict[str, dict[str, Any]]:
    """Each preset spec as written, by file stem, in name order."""
    folder = resources.files("service").joinpath(FOLDER)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return {f.name.removesuffix(".json"): json.loads(f.read_text()) for f in files}


def five_remedies(specs: dict[str, dict[str, Any]]) -> StudyPreset:
    variants = [
        StudyVariant(name=name, remedy=remedy, compare_with=baseline, spec=specs[name])
        for name, remedy, baseline in FIVE_REMEDIES
    ]
    return StudyPreset(
        name="five-remedies",
        title="The five remedies for vanishing gradients, each beside the net it fixes",
        base=specs["plain-deep-mlp"],
        variants=variants,
    )


@lru_cache(maxsize=1)
def presets() -> list[Preset]:
    specs = spec_documents()
    named: list[Preset] = [
        SpecPreset(name=name, title=str(doc.get("name", name)), spec=doc)
        for name, doc in specs.items()
    ]
    return [*named, five_remedies(specs)]
