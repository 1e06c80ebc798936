"""The CDS Hooks 2.0.1 logical models (CDSHooksServices, CDSHooksRequest, CDSHooksResponse, CDSHooksFeedback) as
msgspec Structs: the wire schema of the /cds-services routes and their OpenAPI schema.

Kept in line with the specification (HL7/cds-hooks v2.0.1, input/pagecontent/index.md): a field the spec calls
REQUIRED has no default; an optional one defaults to UNSET and is omitted, never sent as null ("omit, never
null"); unknown fields are accepted (the spec reserves `extension` at every level and lets clients add fields).
tests/unit/test_cds_models.py round-trips the spec's own JSON examples through these Structs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Extension = dict[str, Any]


class Model(msgspec.Struct, omit_defaults=True, rename="camel"):
    """Base of the CDS Hooks Structs: camelCase on the wire, optional fields omitted."""


class Coding(Model):
    code: str
    system: str
    display: str | UnsetType = UNSET


# --- discovery ------------------------------------------------------------------------------------------------


class Service(Model):
    hook: str
    description: str
    id: str
    title: str | UnsetType = UNSET
    prefetch: dict[str, str] | UnsetType = UNSET
    usage_requirements: str | UnsetType = UNSET
    extension: Extension | UnsetType = UNSET


class CDSHooksServices(Model):
    services: list[Service]


# --- service call ---------------------------------------------------------------------------------------------


class FhirAuthorization(msgspec.Struct, omit_defaults=True):  # snake_case on the wire, as OAuth 2.0 spells it
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | UnsetType = UNSET


class CDSHooksRequest(Model):
    hook: str
    hook_instance: Annotated[str, Meta(min_length=1, max_length=128)]
    context: dict[str, Any]
    fhir_server: str | UnsetType = UNSET
    fhir_authorization: FhirAuthorization | UnsetType = UNSET
    prefetch: dict[str, Any] | UnsetType = UNSET
    extension: Extension | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.fhir_authorization is not UNSET and self.fhir_server is UNSET:
            raise ValueError("fhirServer is required when fhirAuthorization is given")


class PatientViewContext(Model):
    user_id: str
    patient_id: str
    encounter_id: str | UnsetType = UNSET


class OrderSelectContext(Model):
    user_id: str
    patient_id: str
    selections: Annotated[list[str], Meta(min_length=1)]
    draft_orders: dict[str, Any]
    encounter_id: str | UnsetType = UNSET


# --- response -------------------------------------------------------------------------------------------------


class Source(Model):
    label: str
    url: str | UnsetType = UNSET
    icon: str | UnsetType = UNSET
    topic: Coding | UnsetType = UNSET


class Action(Model):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | UnsetType = UNSET
    resource_id: str | UnsetType = UNSET


class Suggestion(Model):
    label: str
    uuid: str | UnsetType = UNSET
    is_recommended: bool | UnsetType = UNSET
    actions: list[Action] | UnsetType = UNSET


class Link(Model):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    app_context: str | UnsetType = UNSET
    autolaunchable: bool | UnsetType = UNSET


class Card(Model):
    summary: Annotated[str, Meta(max_length=139)]  # "<140-character"
    indicator: Literal["info", "warning", "critical"]
    source: Source
    uuid: str | UnsetType = UNSET
    detail: str | UnsetType = UNSET
    suggestions: list[Suggestion] | UnsetType = UNSET
    selection_behavior: Literal["at-most-one", "any"] | UnsetType = UNSET
    override_reasons: list[Coding] | UnsetType = UNSET
    links: list[Link] | UnsetType = UNSET
    extension: Extension | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.suggestions is not UNSET and self.selection_behavior is UNSET:
            raise ValueError("selectionBehavior is required when suggestions are given")


class CDSHooksResponse(Model):
    cards: list[Card]
    system_actions: list[Action] | UnsetType = UNSET


# --- feedback -------------------------------------------------------------------------------------------------


class AcceptedSuggestion(Model):
    id: str


class OverrideReason(Model):
    reason: Coding | UnsetType = UNSET
    user_comment: Annotated[str, Meta(max_length=4000)] | UnsetType = UNSET


class FeedbackItem(Model):
    card: Annotated[str, Meta(min_length=1, max_length=128)]
    outcome: Literal["accepted", "overridden"]
    outcome_timestamp: str
    accepted_suggestions: list[AcceptedSuggestion] | UnsetType = UNSET
    override_reason: OverrideReason | UnsetType = UNSET

    def __post_init__(self) -> None:
        try:
            moment = dt.datetime.fromisoformat(self.outcome_timestamp)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or "T" not in self.outcome_timestamp:  # the spec: UTC
            raise ValueError("outcomeTimestamp must be an ISO 8601 date and time, e.g. 2026-11-27T10:05:31Z")
        if self.outcome == "accepted" and self.accepted_suggestions is UNSET:
            raise ValueError("acceptedSuggestions is required when the outcome is accepted")
        if self.outcome == "accepted" and self.override_reason is not UNSET:
            raise ValueError("overrideReason is for an overridden card, not an accepted one")
        if self.outcome == "overridden" and self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is for an accepted card, not an overridden one")


class CDSHooksFeedback(Model):
    feedback: Annotated[list[FeedbackItem], Meta(min_length=1, max_length=100)]


# The spec's names are the classes' (and so the OpenAPI components': a generated client's own `Response` type is
# not shadowed); the short names for the code that reads them.
Services = CDSHooksServices
Request = CDSHooksRequest
Response = CDSHooksResponse
FeedbackRequest = CDSHooksFeedback
Feedback = FeedbackItem
