"""Median milliseconds to render one patient report (a whole-case evaluation, 2 A4 pages) and one registry
summary, with the renderer the workers use.

    .venv/bin/python bench/pdf.py [--runs 50] [--typst-modes]

--typst-modes also times the patient report with a reused typst.Compiler, without PDF tags and without PDF/A, to
show where its time goes (issue 14, P3).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.bulk import evaluate_line
from domain.evaluation import EXAMPLE, Case, evaluate
from domain.kinds import KINDS
from domain.report import Trace, patient_report, registry_summary
from domain.version import RULES_VERSION
from infra.pdf import render_patient_report, render_registry_summary


def timed(render, documents) -> list[float]:
    timings = []
    for document in documents:
        started = time.perf_counter()
        render(document)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--typst-modes", action="store_true")
    args = parser.parse_args()
    case = msgspec.convert(EXAMPLE, Case)
    inputs_json = msgspec.json.encode(case)
    output = msgspec.json.decode(msgspec.json.encode(evaluate(case, "en")))
    paris = ZoneInfo("Europe/Paris")

    def document(i: int):
        """What a worker renders: the report built from the audited answer and inputs (the answer computed again
        in the report's language, French here for an English call), then the PDF."""
        trace = Trace(audit_id=f"{i:036d}", audit_hash="ab" * 32, computed_at="2025-06-01T09:30:00.000000Z",
                      guideline_version="g", engine_version="e", rules_version=RULES_VERSION)
        return patient_report(output, trace=trace, endpoint="POST /v1/evaluations", patient_hash="f" * 64,
                              lang="fr", inputs_json=inputs_json, tz=paris)

    # a different audit id per run, so that no render is a cache hit of the previous one
    documents = list(range(args.runs + 1))
    warm = render_patient_report(document(documents.pop()))  # fonts and templates loaded once per process
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", warm))
    patient = timed(lambda i: render_patient_report(document(i)), documents)
    lines = [{"line": i + 1, "line_id": i, "ok": True, "result": msgspec.to_builtins(
        evaluate_line(json.dumps({"kind": k, **KINDS[k].example}), "en").result)}
        for i, k in enumerate(["sins", "tomita", "mirels", "rades", "tokuhashi", "evaluation"] * 50)]
    summaries = [registry_summary({"id": f"job-{i}", "client": "registry", "total": 300, "done": 300, "failed": 0,
                                   "created_at": "2025-06-01T09:00:00.000000Z",
                                   "finished_at": "2025-06-01T09:05:00.000000Z"}, iter(lines), "en")
                 for i in range(args.runs)]
    registry = timed(render_registry_summary, summaries)
    print(f"patient report ({pages} pages, built and rendered):  median {statistics.median(patient):6.1f} ms, "
          f"p90 {statistics.quantiles(patient, n=10)[-1]:6.1f} ms over {len(patient)} renders (goal <= 20 ms)")
    if args.typst_modes:
        typst_modes([document(i) for i in range(args.runs)])
    print(f"registry summary: median {statistics.median(registry):6.1f} ms, "
          f"p90 {statistics.quantiles(registry, n=10)[-1]:6.1f} ms over {len(registry)} renders")


def typst_modes(documents) -> None:
    import typst

    from infra.pdf import TEMPLATES

    compiler = typst.Compiler(str(TEMPLATES / "patient.typ"), root=str(TEMPLATES), ignore_system_fonts=True)
    modes = {"reused Compiler, PDF/A-2b, tagged": {"pdf_standards": ["a-2b"]},
             "reused Compiler, PDF/A-2b, untagged": {"pdf_standards": ["a-2b"], "pdf_tags": False},
             "reused Compiler, plain PDF": {}}
    data = [msgspec.json.encode(d).decode() for d in documents]
    for name, options in modes.items():
        timings = timed(lambda d, o=options: compiler.compile(sys_inputs={"data": d}, timestamp=0, **o), data)
        print(f"  patient report, {name:<36} median {statistics.median(timings):6.1f} ms")


if __name__ == "__main__":
    main()
