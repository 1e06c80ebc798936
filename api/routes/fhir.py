"""The service's terminology as FHIR R4 (issue 13): the CodeSystem of its scores, items, bands, rules and actions,
and the ValueSet of all of them. Public, like any published terminology: no patient data, no key needed."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Response, get

from infra import fhir_results

FHIR_JSON = "application/fhir+json"


@functools.cache
def _code_system() -> dict[str, Any]:
    return fhir_results.code_system()


@get("/fhir/CodeSystem/bonemets", tags=["fhir"], operation_id="fhir_get_code_system", exclude_from_auth=True,
     summary="The FHIR R4 CodeSystem of bonemets' scores, items, values, bands, rules and actions",
     media_type=FHIR_JSON, security=[])
async def code_system() -> Response[dict[str, Any]]:
    return Response(_code_system(), media_type=FHIR_JSON)


@get("/fhir/ValueSet/bonemets", tags=["fhir"], operation_id="fhir_get_value_set", exclude_from_auth=True,
     summary="The FHIR R4 ValueSet of every bonemets code", media_type=FHIR_JSON, security=[])
async def value_set() -> Response[dict[str, Any]]:
    return Response(fhir_results.value_set(), media_type=FHIR_JSON)


ROUTES = [code_system, value_set]
