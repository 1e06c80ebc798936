"""The specification the tests hold the engine to: clinical-rules.md, read from ../shared/spec when the
checkout sits beside it (CI, developers), else from the copy in docs/ (a fresh clone elsewhere)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "spec" / "clinical-rules.md"
COPY = ROOT / "docs" / "clinical-rules.md"
RULE_ID = re.compile(r"\b(LB|SP|MSCC|SURG|SYS|AR|RT|IR|IMG|TRIAL)-(\d+(?:/\d+)*)\b")


def clinical_rules() -> str:
    return (SHARED if SHARED.exists() else COPY).read_text(encoding="utf-8")


def section(number: int) -> str:
    text = clinical_rules()
    start = text.index(f"\n## {number}.")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def rule_ids_of_section_2() -> set[str]:
    """Every rule id section 2 names; "LB-2/3/4" names three."""
    return {f"{prefix}-{n}" for prefix, numbers in RULE_ID.findall(section(2)) for n in numbers.split("/")}


def section_3_rows() -> list[str]:
    return [line.split("|")[1].strip() for line in section(3).splitlines()
            if line.startswith("| ") and not line.startswith("| where") and "---" not in line]
