"""Report documents (domain/report.py) -> PDF/A-2b bytes, with typst.

typst carries its fonts (Libertinus Serif, DejaVu Sans Mono), so nothing is fetched and system fonts are
ignored: the same document gives the same bytes on every machine. The data reach the templates as JSON in
`sys.inputs`, never spliced into markup, so no text a client sent can be read as typst code.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import msgspec
import typst

from domain.report import PatientReport, RegistrySummary

TEMPLATES = Path(__file__).parent / "templates"


_compilers = threading.local()  # typst's Compiler keeps its parsed template and memoised layout between renders


def _compiler(template: str) -> typst.Compiler:
    found = getattr(_compilers, template, None)
    if found is None:
        found = typst.Compiler(str(TEMPLATES / template), root=str(TEMPLATES), ignore_system_fonts=True)
        setattr(_compilers, template, found)
    return found


def _render(template: str, document: PatientReport | RegistrySummary) -> bytes:
    return _compiler(template).compile(sys_inputs={"data": msgspec.json.encode(document).decode()},
                                       pdf_standards=["a-2b"], timestamp=0)


def render_patient_report(report: PatientReport) -> bytes:
    return _render("patient.typ", report)


def render_registry_summary(summary: RegistrySummary) -> bytes:
    return _render("registry.typ", summary)


def sha256(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()
