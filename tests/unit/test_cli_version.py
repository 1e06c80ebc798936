"""`bonemets --version`: what an operator checks first, without settings or a database."""

import subprocess
import sys
from pathlib import Path

import yaml

from domain import version

ROOT = Path(__file__).resolve().parents[2]


def test_version_names_the_engine_the_guideline_and_the_rules_without_any_settings():
    out = subprocess.run([sys.executable, "-m", "api.cli", "--version"], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": ""}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (f"bonemets {version.ENGINE_VERSION} (guideline {version.GUIDELINE_VERSION}, "
                                  f"rules {version.RULES_VERSION})")


def test_the_compose_worker_health_check_pings_its_own_worker_only():
    worker = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    command = worker["healthcheck"]["test"]
    assert command[0] == "CMD-SHELL" and "--destination celery@$HOSTNAME" in command[1].replace("$$", "$")
