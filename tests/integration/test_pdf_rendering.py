"""The PDF renderer on real documents: readable text in both languages, non-blank pages, charts, and the
same bytes for the same input."""

import re

import msgspec
import pytest

from domain.evaluation import EXAMPLE, Case, evaluate
from domain.report import Trace, patient_report, registry_summary
from domain.texts import labels as words
from infra.pdf import render_patient_report, render_registry_summary, sha256
from tests.pdftools import ACCENT, filled_bars, non_white_share, pages, text_of

TRACE = Trace(audit_id="5b0c6c1e-3f1a-4a43-9a57-0c8d9e3b2a11", audit_hash="ab" * 32,
              computed_at="2025-06-01T09:30:00.123456Z", guideline_version="oncobfc-neon-oncorif-2024-09-17",
              engine_version="0.1.0", rules_version="2026.11.1")


def dehyphen(text):
    return re.sub(r"[-–] ?", "", text)


def case_report(lang):
    output = msgspec.to_builtins(evaluate(msgspec.convert(EXAMPLE, Case), lang))
    return output, patient_report(output, trace=TRACE, endpoint="POST /v1/evaluations", patient_hash="f" * 64,
                                  lang=lang)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_patient_report_text_holds_every_total_band_rule_id_and_the_audit_id(lang, tmp_path):
    output, report = case_report(lang)
    # a line may break after a hyphen or a dash (bone-|resorption, C7–|T2), which pdftotext then drops or keeps:
    # hyphens and dashes are not compared
    text = dehyphen(" ".join(text_of(render_patient_report(report), tmp_path, layout=False).split()))
    for score in output["scores"]:
        band = words.BANDS[(score["score"], score["band"])][lang]
        assert score["score"].upper() in text and dehyphen(band) in text and f"Total {score['total']}" in text
        # items and values in words from the label table, never their codes (issue 12: one table for all)
        for item in score["items"]:
            label = (words.ITEMS.get((score["score"], item["item"])) or words.FIELDS[item["item"]])[lang]
            assert dehyphen(label) in text
            if (score["score"], item["item"], item["value"]) in words.VALUES:
                assert dehyphen(words.VALUES[(score["score"], item["item"], item["value"])][lang]) in text
                assert "_" not in item["value"] or item["value"] not in text  # a code such as one_to_two_thirds
        assert "_" not in score["band"] or score["band"] not in text
    for missing in output["not_evaluable"]:  # what is missing, in words too
        first = missing["missing"][0].split("|")[0]
        assert dehyphen(words.FIELDS[first][lang]) in text
        assert "_" not in first or first not in text
    for rec in output["recommendations"]:
        assert dehyphen(words.ACTIONS[rec["action"]][lang]) in text
        assert "_" not in rec["action"] or rec["action"] not in text
    for rule_id in output["rule_ids"]:
        assert dehyphen(rule_id) in text
    assert dehyphen(TRACE.audit_id) in text and TRACE.audit_hash in text
    assert ("Discussion en RCP" if lang == "fr" else "Discuss in RCP") in text
    disclaimer = "La réunion de concertation pluridisciplinaire" if lang == "fr" else "The multidisciplinary meeting"
    assert disclaimer in text


def test_patient_report_is_one_to_three_a4_pages_none_blank(tmp_path):
    _, report = case_report("en")
    rendered = pages(render_patient_report(report), tmp_path)
    assert 1 <= len(rendered) <= 3
    for page in rendered:
        width, height, _ = page
        assert abs(height / width - 297 / 210) < 0.01  # A4
        assert non_white_share(page) > 0.01


def test_the_same_input_gives_the_same_bytes():
    _, first = case_report("fr")
    _, second = case_report("fr")
    assert render_patient_report(first) == render_patient_report(second)
    assert sha256(render_patient_report(first)) == sha256(render_patient_report(second))


def test_registry_summary_draws_a_chart_per_score_and_lists_the_lines_in_error(tmp_path):
    lines = []
    for i in range(60):
        lines.append({"line": i + 1, "line_id": i, "ok": True, "result": msgspec.to_builtins(
            evaluate(msgspec.convert(EXAMPLE, Case), "en"))})
    lines.append({"line": 61, "line_id": "bad", "ok": False, "error": {"detail": "x", "errors": [
        {"field": "pain", "message": "Invalid enum value 'x'", "allowed": None}]}})
    job = {"id": "job-1", "client": "registry-b", "total": 61, "done": 60, "failed": 1,
           "created_at": "2025-06-01T09:00:00.000000Z", "finished_at": "2025-06-01T09:05:00.000000Z"}
    summary = registry_summary(job, iter(lines), "en")
    assert [c.title for c in summary.band_charts] == ["mirels", "sins", "tomita"]
    pdf = render_registry_summary(summary)
    text = " ".join(text_of(pdf, tmp_path).split())
    assert all(name in text for name in ("MIRELS", "SINS", "TOMITA")) and "pain: Invalid enum value" in text
    first_page = pages(pdf, tmp_path, dpi=72)[0]
    # every band of each score in its clinical order, in words; a bar drawn for each band some line fell in
    assert [b.label for b in summary.band_charts[0].bars] == ["Low fracture risk", "Borderline fracture risk",
                                                              "High fracture risk"]
    assert all(words.ACTIONS[code]["en"] in text for code in ("cementoplasty", "whole_spine_mri"))
    expected = sum(1 for c in (*summary.band_charts, summary.action_chart) for b in c.bars if b.count)
    assert filled_bars(first_page, ACCENT, below=0.12) >= expected  # each bar drawn, below the header band


def test_a_summary_without_results_draws_no_bars(tmp_path):
    job = {"id": "job-2", "client": "registry-b", "total": 1, "done": 0, "failed": 1,
           "created_at": "2025-06-01T09:00:00.000000Z", "finished_at": "2025-06-01T09:05:00.000000Z"}
    summary = registry_summary(job, iter([{"line": 1, "line_id": None, "ok": False, "error": {"detail": "x"}}]), "fr")
    assert filled_bars(pages(render_registry_summary(summary), tmp_path, dpi=72)[0], ACCENT, below=0.12) == 0


@pytest.mark.parametrize(("lang", "heading", "by", "urgency"), [
    ("en", "Withheld by a safety rule", "withheld by SURG-1", "Emergency"),
    ("fr", "Écartées par une règle de sécurité", "écartée par SURG-1", "Urgence")])
def test_patient_report_prints_what_a_safety_rule_withheld_and_why(lang, heading, by, urgency, tmp_path):
    """clinical-rules.md section 4: the withheld recommendations are printed as such, with the rule that withheld
    them and the finding, in the report's language; every recommendation shows its urgency."""
    from tests.unit.test_safe_stories import DYING

    output = msgspec.to_builtins(evaluate(msgspec.convert(DYING, Case), lang))
    report = patient_report(output, trace=TRACE, endpoint="POST /v1/evaluations", patient_hash=None, lang=lang)
    text = " ".join(text_of(render_patient_report(report), tmp_path).split())
    assert heading in text and by in text and urgency in text
    for withheld in output["withheld"]:
        assert withheld["reason"]["text"] in text and words.ACTIONS[withheld["action"]][lang] in text


def whole_case(lang, *, call_lang="en", rules_version=TRACE.rules_version):
    from zoneinfo import ZoneInfo

    case = msgspec.convert(EXAMPLE, Case)
    output = msgspec.json.decode(msgspec.json.encode(evaluate(case, call_lang)))
    trace = msgspec.structs.replace(TRACE, rules_version=rules_version)
    return output, render_patient_report(patient_report(
        output, trace=trace, endpoint="POST /v1/evaluations", patient_hash="7f3a9c21b4" + "e" * 54, lang=lang,
        inputs_json=msgspec.json.encode(case), tz=ZoneInfo("Europe/Paris")))


def test_a_french_report_of_an_english_call_is_french_throughout_with_its_summary_values_and_references(tmp_path):
    output, pdf = whole_case("fr", call_lang="en")
    text = " ".join(text_of(pdf, tmp_path, layout=False).split())
    assert len(pages(pdf, tmp_path)) == 2  # a typical whole case fits on 2 pages
    for english in (r["text"] for r in output["recommendations"]):
        assert dehyphen(english[:40]) not in dehyphen(text)  # no recommendation left in the call's language
    # the summary, in units, and the values the advice refers to, beside it
    for shown in ("58 ans", "62 kg", "70 µmol/L", "80 %", "24 mois", "Femme", "75,8 mL/min", "4 mg", "120 mg"):
        assert shown in text, shown
    # the pseudonym as a short code with the line saying who holds the link; never the hash
    assert "7F3A-9C21-B4" in text and "seul le système appelant" in text and "7f3a9c21b4e" not in text
    # dates and times in words, in the evaluation's time zone; no ISO timestamp
    assert "1 juin 2025" in text and "11:30 (Europe/Paris)" in text and "T09:30" not in text
    # one references section: each citation once
    assert text.count("Mirels H. Metastatic disease in long bones") == 1 and "Références" in text


def test_an_english_report_is_english_and_fits_on_two_pages(tmp_path):
    _, pdf = whole_case("en", call_lang="fr")
    text = " ".join(text_of(pdf, tmp_path, layout=False).split())
    assert len(pages(pdf, tmp_path)) == 2
    assert "58 years" in text and "75.8 mL/min" in text and "Creatinine clearance" in text
    assert "1 Jun 2025, 11:30 (Europe/Paris)" in text and "Recommendations" in text
    assert "Acide zolédronique" not in text


def test_a_report_of_an_answer_the_rules_no_longer_give_prints_its_words_as_recorded_and_says_so(tmp_path):
    output, pdf = whole_case("fr", call_lang="en", rules_version="2020.1.1")
    text = " ".join(text_of(pdf, tmp_path, layout=False).split())
    assert "Les règles ont changé depuis cette réponse" in text
    assert dehyphen(output["recommendations"][0]["text"][:40]) in dehyphen(text)


def error_lines(count, start=1):
    """`count` failed result lines of four causes, as a worker stores them (an English job)."""
    from domain.bulk import evaluate_line
    from infra.problems import problem_body

    bodies = ['{"kind":"sins","pain":"x%d"}', "not json %d", '{"kind":"nope","n":%d}',
              '{"kind":"mirels","site":"upper_limb","pain":"mild","lesion":"lytic","size":"huge%d"}']
    lines = []
    for i in range(count):
        rejected = evaluate_line(bodies[i % 4] % i, "en")
        lines.append({"line": start + i, "line_id": f"r{i}", "ok": False,
                      "error": problem_body(422, "x", errors=rejected.problems, language="en")})
    return lines


def score_lines(count):
    from domain.bulk import evaluate_line
    from domain.kinds import KINDS

    kinds = ["mirels", "sins", "tomita"]
    return [{"line": i + 1, "line_id": i, "ok": True, "result": msgspec.to_builtins(evaluate_line(
        msgspec.json.encode({"kind": kinds[i % 3], **KINDS[kinds[i % 3]].example}), "en").result)}
        for i in range(count)]


def test_a_summary_gives_each_band_its_count_share_and_denominator_in_clinical_order(tmp_path):
    lines = score_lines(30) + error_lines(2, start=31)
    job = {"id": "job-3", "client": "registry-b", "total": 32, "done": 30, "failed": 2, "language": "en",
           "created_at": "2025-06-01T09:00:00.000000Z", "finished_at": "2025-06-01T09:05:00.000000Z"}
    summary = registry_summary(job, iter(lines), "fr")
    mirels = summary.band_charts[0]
    assert mirels.denominator == 10 and [b.label for b in mirels.bars] == [
        words.BANDS[("mirels", code)]["fr"] for code in ("low", "borderline", "high")]
    assert [(b.count, b.percent) for b in mirels.bars] == [(0, "0 %"), (0, "0 %"), (10, "100 %")]
    assert summary.succeeded == "93,8 %"  # 30 of 32
    text = " ".join(text_of(render_registry_summary(summary), tmp_path, layout=False).split())
    assert "n = 10" in text and "100 %" in text and "30 (93,8 %)" in text
    assert "valeur non reconnue" in text and "Invalid enum value" not in text  # the English job's errors, in French


def test_ten_thousand_errors_read_as_their_causes_then_the_first_lines(tmp_path):
    lines = score_lines(30) + error_lines(10_000, start=31)
    job = {"id": "job-4", "client": "registry-b", "total": 10_030, "done": 30, "failed": 10_000, "language": "en",
           "created_at": "2025-06-01T09:00:00.000000Z", "finished_at": "2025-06-01T09:05:00.000000Z"}
    summary = registry_summary(job, iter(lines), "en")
    assert len(summary.causes) == 4 and sum(c.count for c in summary.causes) == 10_000
    assert {c.field for c in summary.causes} == {"$", "kind", "pain", "size"}  # one cause per reason, not per value
    assert all(c.percent == "25 %" for c in summary.causes) and summary.causes[0].lines.endswith("…")
    pdf = render_registry_summary(summary)
    assert len(pages(pdf, tmp_path)) <= 3
    text = " ".join(text_of(pdf, tmp_path, layout=False).split())
    assert "Most frequent causes of error" in text and f"+ {10_000 - len(summary.errors)} more lines in error" in text


def test_a_french_jobs_errors_in_an_english_summary_are_printed_as_recorded_and_said_to_be(tmp_path):
    lines = [{**line, "error": {**line["error"], "errors": [{**e, "message": "valeur non reconnue 'x'"}
                                                              for e in line["error"]["errors"]]}}
             for line in error_lines(3)]
    job = {"id": "job-5", "client": "registry-b", "total": 3, "done": 0, "failed": 3, "language": "fr",
           "created_at": "2025-06-01T09:00:00.000000Z", "finished_at": "2025-06-01T09:05:00.000000Z"}
    summary = registry_summary(job, iter(lines), "en")
    assert summary.messages_as_recorded
    text = " ".join(text_of(render_registry_summary(summary), tmp_path, layout=False).split())
    assert "printed as recorded, in the language the job was submitted in" in text


# three lesions, one operated, with antiresorptive and imaging questions: the independent review's "typical" case
THREE_LESIONS = {'evaluation_date': '2025-06-01',
 'patient': {'age': 74,
             'sex': 'female',
             'weight_kg': 55,
             'creatinine': {'value': 110, 'unit': 'umol_l'},
             'karnofsky': 70,
             'life_expectancy_months': 10},
 'disease': {'bone_metastases': 3, 'metastatic_sites': 2, 'visceral_metastases': False},
 'lesions': [{'id': 'femur-R',
              'kind': 'long_bone',
              'long_bone': {'pathological_fracture': False,
                            'location': 'trochanteric',
                            'mirels': {'site': 'peritrochanteric',
                                       'pain': 'functional',
                                       'lesion': 'lytic',
                                       'cortical_destruction_fraction': 0.5}}},
             {'id': 'T12',
              'kind': 'spine',
              'spine': {'vertebral_involvement': True,
                        'compression_fracture': True,
                        'posterior_wall_retropulsion': False,
                        'pain_uncontrolled': True,
                        'cord_threat': False,
                        'puncture_site_infection': False,
                        'uncontrolled_sepsis': False,
                        'sins': {'level': 'T12',
                                 'pain': 'mechanical',
                                 'lesion': 'lytic',
                                 'alignment': 'normal',
                                 'collapse_percent': 30,
                                 'posterolateral': 'none'}}},
             {'id': 'humerus-L',
              'kind': 'long_bone',
              'long_bone': {'pathological_fracture': False},
              'radiotherapy': {'surgery_date': '2025-05-20',
                               'operated_site': 'long_bone',
                               'skin_healed': True,
                               'painful': True,
                               'analgesic_resistant': True,
                               'ir_accessible': False}}],
 'surgery': {'tomita': {'growth': 'moderate', 'visceral_metastases': 'none', 'bone_metastases': 'multiple'}},
 'antiresorptive': {'urgent': False, 'dental_assessment_done': True},
 'imaging': {'last_gcsf_date': '2025-05-28', 'planned_pet_date': '2025-06-03'}}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_three_lesion_case_fits_on_two_pages_with_each_missing_input_listed_once(lang, tmp_path):
    from zoneinfo import ZoneInfo

    case = msgspec.convert(THREE_LESIONS, Case)
    output = msgspec.json.decode(msgspec.json.encode(evaluate(case, "en")))
    report = patient_report(output, trace=TRACE, endpoint="POST /v1/evaluations", patient_hash="e" * 64, lang=lang,
                            inputs_json=msgspec.json.encode(case), tz=ZoneInfo("Europe/Paris"))
    assert len(pages(render_patient_report(report), tmp_path)) == 2
    rt1 = [n for n in report.not_evaluable if n.startswith("RT-1 ")]
    assert len(rt1) == 1 and "femur-R, T12" in rt1[0]  # one line for the lesions lacking the same inputs
