"""Named specs served by `GET /v1/presets`: every spec in service/preset_specs/ (examples/
links to them), and the ready studies of service/preset_studies.py (the five remedies of
PRODUCT.md section 1 among them), each postable to `POST /v1/studies` as it is.

The specs are package data, so a non-editable install and the slim API image carry them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from gradprobe.api import Preset, SpecPreset
from service.preset_studies import studies

FOLDER = "preset_specs"


@lru_cache(maxsize=1)
def spec_documents() -> dict[str, dict[str, Any]]:
    """Each preset spec as written, by file stem, in name order."""
    folder = resources.files("service").joinpath(FOLDER)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return {f.name.removesuffix(".json"): json.loads(f.read_text()) for f in files}


@lru_cache(maxsize=1)
def presets() -> list[Preset]:
    specs = spec_documents()
    named: list[Preset] = [
        SpecPreset(name=name, title=str(doc.get("name", name)), spec=doc)
        for name, doc in specs.items()
    ]
    return [*named, *studies(specs)]
