"""The CDS Hooks 2.0.1 Structs (infra/cds_models.py) hold the specification's own JSON examples
(tests/fixtures/cds_hooks, from HL7/cds-hooks v2.0.1): each decodes, and encodes back to the same document — every
field the spec gives survives, none is added; the two examples that break the spec's own REQUIRED rules are
refused."""

import json
from pathlib import Path

import msgspec
import pytest

from infra import cds_models as m

EXAMPLES = Path(__file__).parent.parent / "fixtures" / "cds_hooks"
KINDS = {
    "discovery-response.json": m.Services,
    "discovery-response-with-extension.json": m.Services,
    "patient-view-request.json": m.Request,
    "card-response.json": m.Response,
    "empty-cards-response.json": m.Response,
    "feedback-accepted.json": m.FeedbackRequest,
    "feedback-overridden.json": m.FeedbackRequest,
    "feedback-overridden-with-reason.json": m.FeedbackRequest,
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_spec_example_round_trips_through_its_struct(name):
    document = json.loads((EXAMPLES / name).read_text())
    decoded = msgspec.convert(document, KINDS[name])
    assert msgspec.to_builtins(decoded) == document


def test_the_order_select_context_of_the_hook_library_decodes():
    context = json.loads((EXAMPLES / "order-select-context-r4.json").read_text())["context"]
    decoded = msgspec.convert(context, m.OrderSelectContext)
    assert decoded.selections == ["NutritionOrder/pureeddiet-simple", "MedicationRequest/smart-MedicationRequest-103"]
    assert msgspec.to_builtins(decoded) == context


@pytest.mark.parametrize("name", ["autolaunchable-response-missing-indicator.json",
                                  "system-actions-response-missing-description.json"])
def test_the_examples_that_miss_a_required_field_are_refused(name):
    with pytest.raises(msgspec.ValidationError, match=r"indicator|description"):
        msgspec.convert(json.loads((EXAMPLES / "nonconformant" / name).read_text()), m.Response)


@pytest.mark.parametrize(("kind", "document", "missing"), [
    (m.Request, {"hookInstance": "x", "context": {}}, "hook"),
    (m.Request, {"hook": "patient-view", "context": {}}, "hookInstance"),
    (m.Card, {"summary": "s", "source": {"label": "l"}}, "indicator"),
    (m.Card, {"summary": "s", "indicator": "info"}, "source"),
    (m.Link, {"label": "l", "url": "u"}, "type"),
    (m.Feedback, {"card": "c", "outcome": "overridden"}, "outcomeTimestamp"),
    (m.Service, {"hook": "h", "id": "i"}, "description"),
])
def test_each_required_field_of_the_logical_models_is_required(kind, document, missing):
    with pytest.raises(msgspec.ValidationError, match=missing):
        msgspec.convert(document, kind)


def test_conditional_rules_of_the_spec_hold():
    with pytest.raises(msgspec.ValidationError, match="selectionBehavior"):
        msgspec.convert({"summary": "s", "indicator": "info", "source": {"label": "l"},
                         "suggestions": [{"label": "x"}]}, m.Card)
    with pytest.raises(msgspec.ValidationError, match="acceptedSuggestions"):
        msgspec.convert({"card": "c", "outcome": "accepted", "outcomeTimestamp": "2021-01-01T00:00:00Z"}, m.Feedback)
    with pytest.raises(msgspec.ValidationError, match="fhirServer"):
        msgspec.convert({"hook": "h", "hookInstance": "i", "context": {}, "fhirAuthorization": {
            "access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "c"}},
            m.Request)
    with pytest.raises(msgspec.ValidationError, match="139"):
        msgspec.convert({"summary": "x" * 140, "indicator": "info", "source": {"label": "l"}}, m.Card)
