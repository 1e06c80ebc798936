"""Serializers schemathesis lacks for this service's request bodies: NDJSON (a bulk job's lines). The conformance
test imports it; with the CLI: `SCHEMATHESIS_HOOKS=tests.schemathesis_hooks schemathesis run ...`."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """A list becomes one JSON line per item; anything else, one line (a string as it is, which may well be
    malformed: the service must answer it per line, never with a server error)."""
    if isinstance(value, list):
        return "".join(json.dumps(item) + "\n" for item in value).encode()
    return (value if isinstance(value, str) else json.dumps(value)).encode()
