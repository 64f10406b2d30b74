"""docs/configuration.md holds one table of every GRADPROBE_* variable, generated from the
fields of service.settings.Settings; these tests fail when the two disagree.

Regenerate the table after changing Settings:  python -m tests.service.test_configuration_doc
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN TABLE: generated from service.settings.Settings; do not edit -->"
END = "<!-- END TABLE -->"
HEADER = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
# Variables of the Python client (PRODUCT.md section 5), not of the server.
CLIENT = {"GRADPROBE_URL", "GRADPROBE_API_KEY"}
# Files that name variables for the people who deploy the server.
DEPLOYMENT_FILES = ["docs/configuration.md", "docs/deploy.md", "docker-compose.yml", "docker/*"]
VARIABLE = re.compile(r"\bGRADPROBE_[A-Z0-9_]*[A-Z0-9]")
ROW = re.compile(r"^\| `(GRADPROBE_\w+)` \|")


def env_name(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def show_default(name: str, value: Any) -> str:
    if value == "":
        return "*(empty)*"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if name.endswith("_bytes") and isinstance(value, int) and value >= 2**20:
        unit, size = ("GiB", 2**30) if value >= 2**30 else ("MiB", 2**20)
        return f"`{text}` ({value / size:g} {unit})"
    return f"`{text}`"


def meaning(name: str, field: FieldInfo) -> str:
    if field.description:
        return field.description
    # The per-job caps take their defaults from gradprobe.spec.Caps.
    what = name.removeprefix("max_").replace("_", " ")
    return f"Per-job cap on {what}, checked when a job is submitted (422 over it)."


def render_table() -> list[str]:
    rows = [
        f"| `{env_name(name)}` | {show_default(name, f.default)} | {meaning(name, f)} |"
        for name, f in Settings.model_fields.items()
    ]
    return [*HEADER, *rows]


def table_in(text: str) -> list[str]:
    assert BEGIN in text and END in text, f"{DOC} lost its table markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()


def test_the_table_names_every_setting_and_no_other_variable() -> None:
    listed = [m.group(1) for line in table_in(DOC.read_text()) if (m := ROW.match(line))]
    settings = [env_name(name) for name in Settings.model_fields]
    missing = sorted(set(settings) - set(listed))
    unknown = sorted(set(listed) - set(settings))
    assert not missing, f"Settings fields missing from {DOC.name}: {missing}"
    assert not unknown, f"{DOC.name} names variables Settings does not read: {unknown}"
    assert len(listed) == len(set(listed)), "a variable is listed twice"


def test_the_table_is_the_one_generated_from_settings() -> None:
    assert table_in(DOC.read_text()) == render_table(), (
        f"{DOC.name} is out of date: run python -m tests.service.test_configuration_doc"
    )


def test_every_server_variable_named_in_the_deployment_files_exists() -> None:
    known = {env_name(name) for name in Settings.model_fields} | CLIENT
    for pattern in DEPLOYMENT_FILES:
        for path in sorted(ROOT.glob(pattern)):
            unknown = sorted(set(VARIABLE.findall(path.read_text())) - known)
            assert not unknown, f"{path.relative_to(ROOT)} names unknown variables: {unknown}"


def rewrite() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text("\n".join([head + BEGIN, *render_table(), END]) + tail)


if __name__ == "__main__":
    rewrite()
    print(f"wrote the table of {DOC.relative_to(ROOT)}")
