"""Never a 500 for anything a client sent: schemathesis generates requests from the OpenAPI document
(valid and invalid) against every operation of the app, on SQLite."""

import pytest
import schemathesis


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_operation_answers_a_server_error(settings, keys):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings

    from api.app import create_app

    app = create_app(settings, configure_logs=False)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                             derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers={"Authorization": f"Bearer {keys.everything}"})
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

        check()
    assert failures == []
