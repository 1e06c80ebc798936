"""Clinical trials (TRIAL): each trial open or closed on the evaluation date, never hard-coded."""

from __future__ import annotations

import datetime as dt

from domain.model import Inputs as InputsBase
from domain.model import Language, Struct
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult

NAME = "trials"
RULE_IDS = ("TRIAL-1", "TRIAL-2", "TRIAL-3")


class Trial(Struct):
    rule_id: str
    name: str
    sponsor: str
    opens: dt.date
    closes: dt.date
    max_bone_metastases: int | None = None  # STEREO-OS: 1-3 bone metastases


TRIALS = (
    Trial(rule_id="TRIAL-1", name="PRISM", sponsor="CHU Besançon", opens=dt.date(2016, 5, 30),
          closes=dt.date(2022, 5, 30)),
    Trial(rule_id="TRIAL-2", name="STEREO-OS", sponsor="UNICANCER", opens=dt.date(2018, 1, 1),
          closes=dt.date(2026, 1, 24), max_bone_metastases=3),
    Trial(rule_id="TRIAL-3", name="Telocap02", sponsor="CHRU Besançon", opens=dt.date(2015, 12, 1),
          closes=dt.date(2021, 6, 30)),
)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"evaluation_date": "2025-06-01", "bone_metastases": 2}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The evaluation date, and what trial eligibility needs."""

    evaluation_date: opt(dt.date, "The date the case is evaluated on.") = None
    bone_metastases: opt(int, "Number of bone metastases (STEREO-OS: 1-3).", ge=0, le=1000) = None


def is_open(trial: Trial, on: dt.date) -> bool:
    return trial.opens <= on <= trial.closes


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    for trial in TRIALS:
        if not out.need(trial.rule_id, inputs, "evaluation_date") or not is_open(trial, inputs.evaluation_date):
            continue
        if trial.max_bone_metastases is not None:
            if not out.need(trial.rule_id, inputs, "bone_metastases"):
                continue
            if not 1 <= inputs.bone_metastases <= trial.max_bone_metastases:
                continue
        out.fire(trial.rule_id, "consider_trial_inclusion", inputs=inputs, fields=("evaluation_date",),
                 values={"trial": trial.name, "sponsor": trial.sponsor, "opens": trial.opens.isoformat(),
                         "closes": trial.closes.isoformat()})
    return out.result(NAME)
