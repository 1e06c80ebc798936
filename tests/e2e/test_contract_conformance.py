"""The OpenAPI document tells the truth (issue 12): schemathesis generates requests for every operation against
a live server (`bonemets run`: SQLite and the embedded broker) and checks every answer with the four conformance
checks: no server error, a status code the document lists, a content type it lists, a body that matches its
schema. Any finding fails. Then a client generated from the document calls every compute operation."""

import os
import signal
import subprocess
import sys

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import schemathesis_hooks  # noqa: F401 — registers the NDJSON serializer (bulk job bodies)
from tests.e2e.test_embedded_run import cli
from tests.integration.test_audit_chain import free_port, wait_ready

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("conformance")
    env = {**os.environ, "BONEMETS_VAR_DIR": str(home / "var"), "BONEMETS_LOG_FORMAT": "json"}
    env.pop("BONEMETS_DATABASE_URL", None)
    assert cli("migrate", env=env).returncode == 0  # the embedded default, API and worker: `bonemets run`
    key = cli("keys", "create", "--client", "fuzzer", "--roles", "scoring,registry,auditor",
              env=env).stdout.strip().splitlines()[-1]
    port = free_port()
    log = (home / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "run", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(port, timeout=60)
        yield f"http://127.0.0.1:{port}", key
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_every_answer_of_every_operation_conforms_to_the_document(live_server):
    base, key = live_server
    schema = schemathesis.openapi.from_dict(httpx.get(f"{base}/schema/openapi.json", timeout=10).json())
    findings = []
    session = requests.Session()  # one, closed at the end: no socket left for the garbage collector
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:

        @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                             derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def check(case):
            for headers in ({"Authorization": f"Bearer {key}"}, {}):  # with the key, and without any
                response = case.call(base_url=base, headers=headers, session=session)
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as failure:  # every finding, not the first one only
                    found = failure.exceptions if isinstance(failure, BaseExceptionGroup) else [failure]
                    for each in found:
                        findings.append(f"{case.operation.label} -> {response.status_code} "
                                        f"{response.headers.get('content-type')}: {type(each).__name__}: "
                                        f"{str(each).strip().splitlines()[0][:160]}")

        check()
    session.close()
    unique = sorted(set(findings))
    assert unique == [], f"{len(unique)} findings:\n" + "\n".join(unique[:60])


def test_a_generated_client_calls_every_compute_operation(live_server, tmp_path):
    """An integrator's path: generate a Python client from the served document with openapi-python-client (from
    the package registry), then call every score, pathway and whole-case evaluation through it."""
    import importlib
    import inspect

    from domain.kinds import KINDS

    base, key = live_server
    (tmp_path / "openapi.json").write_bytes(httpx.get(f"{base}/schema/openapi.json", timeout=10).content)
    generator = os.path.join(os.path.dirname(sys.executable), "openapi-python-client")
    made = subprocess.run([generator, "generate", "--path", str(tmp_path / "openapi.json"), "--meta", "none",
                           "--output-path", str(tmp_path / "bonemets_client")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PATH": os.path.dirname(sys.executable) + ":" +
                                            os.environ.get("PATH", "")})
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("bonemets_client")
        client = client_module.AuthenticatedClient(base_url=base, token=key)
        tags = {"score.computed": "scores", "pathway.evaluated": "pathways", "evaluation.computed": "evaluations"}
        called = []
        for kind in KINDS.values():
            operation_id = f"{tags[kind.action]}_{kind.name.replace('-', '_')}"
            operation = importlib.import_module(f"bonemets_client.api.{tags[kind.action]}.{operation_id}")
            body_type = inspect.signature(operation.sync_detailed).parameters["body"].annotation
            if isinstance(body_type, str):
                body_type = eval(body_type, vars(operation))  # the generated module's own names
            answer = operation.sync_detailed(client=client, body=body_type.from_dict(kind.example))
            assert answer.status_code == 200, (operation_id, answer.content[:300])
            assert answer.parsed is not None and answer.parsed.audit_id, operation_id
            called.append(operation_id)
        assert len(called) == 16
        client.get_httpx_client().close()
        # every generated module imports: no schema of the document shadows the generator's own names (the CDS
        # Hooks response was once a component called `Response`)
        import pkgutil
        modules = [m.name for m in pkgutil.walk_packages(client_module.__path__, "bonemets_client.")]
        for name in modules:
            importlib.import_module(name)
        assert "bonemets_client.api.cds_hooks.cds_hooks_call" in modules
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("bonemets_client")]:
            del sys.modules[name]
