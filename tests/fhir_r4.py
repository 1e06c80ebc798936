"""Validation against FHIR R4 itself (4.0.1), not only R4B: fhir.resources 6.1 is the last release whose models
are R4, and it needs pydantic 1, so it lives in a virtual environment of its own (.cache/fhir-r4, made once from
the package registry) and checks the resources in a subprocess."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".cache" / "fhir-r4"
PYTHON = HOME / "bin" / "python"
CHECK = """
import json, sys
import fhir.resources
from fhir.resources import construct_fhir_element
assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
problems = []
for index, resource in enumerate(json.load(sys.stdin)):
    try:
        construct_fhir_element(resource["resourceType"], resource)
    except Exception as exc:
        problems.append(f"{index} {resource.get('resourceType')}: {str(exc)[:400]}")
print(json.dumps(problems))
"""


def _ensure() -> Path:
    HOME.parent.mkdir(parents=True, exist_ok=True)
    with (HOME.parent / "fhir-r4.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never build it at once
        if not (HOME / "ready").exists():
            venv.create(HOME, with_pip=True, clear=True)
            subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "fhir.resources==6.1.0", "pydantic<2"], check=True, timeout=600)
            (HOME / "ready").write_text("fhir.resources 6.1.0 (FHIR 4.0.1)\n")
    return PYTHON


def r4_problems(resources: list[dict]) -> list[str]:
    """Every resource that FHIR R4 (4.0.1) models refuse, with why; [] when all are valid R4."""
    answer = subprocess.run([str(_ensure()), "-c", CHECK], input=json.dumps(resources), capture_output=True,
                            text=True, timeout=300)
    if answer.returncode != 0:
        raise AssertionError(answer.stderr[-2000:])
    return json.loads(answer.stdout)


if __name__ == "__main__":
    print(r4_problems(json.load(sys.stdin)))
