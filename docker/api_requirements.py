"""Print the API image's requirements: the project's dependencies less the training stack.

The API, `migrate` and `keys` never import torch (PRODUCT.md section 7), nor scipy,
scikit-learn or numba, which only the engine uses. Reading pyproject.toml at build time
keeps one list of dependencies; tests/integration/test_compose.py checks that what the API,
`migrate` and `keys` import is installed by what this prints.

    python docker/api_requirements.py [pyproject.toml] > requirements.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

TRAINING_ONLY = frozenset({"torch", "scipy", "scikit-learn", "numba"})


def requirement_name(requirement: str) -> str:
    """The distribution a requirement names, normalised (PEP 503): `uvicorn[standard]>=1` ->
    `uvicorn`."""
    name = re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def api_requirements(pyproject: Path) -> list[str]:
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if requirement_name(d) not in TRAINING_ONLY]


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(api_requirements(path)))
