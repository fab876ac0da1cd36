"""Schema-driven fuzzing of the bridge API with schemathesis: every operation in the served OpenAPI
schema gets generated valid and invalid requests; responses must match the schema (status codes,
content types, bodies), never be server errors, and requests without the token must be refused.

Jobs submitted here queue without running (the job manager is not started), so the run checks the
HTTP contract only; tests/test_server.py runs real jobs."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from brushwork.server.app import create_app
from brushwork.server.jobs import JobManager

TOKEN = "schema-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

manager = JobManager()
asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
schema = schemathesis.openapi.from_asgi("/openapi.json", asgi, headers={**AUTH, "Host": "127.0.0.1"})


@pytest.fixture(scope="module", autouse=True)
def no_workers():
    yield
    manager.close()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    # positive_data_acceptance is left out: a schema-valid request can still carry bytes that are not
    # a PNG or a pixel count that does not match width x height, which the API rightly answers with 422.
    case.call_and_validate(headers={**AUTH, "Host": "127.0.0.1"},
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])


def test_the_limits_are_in_the_schema():
    # Clients learn the 400/413/429/410 answers (and the limits they enforce) from the schema itself.
    operations = manager_schema()["paths"]
    submit = operations["/v1/jobs"]["post"]["responses"]
    assert {"400", "413", "422", "429"} <= set(submit)
    assert "16 jobs waiting" in submit["429"]["description"]
    assert "2048 MB of worker memory" in submit["413"]["description"]
    for path in ("/v1/jobs/{job_id}/result.png", "/v1/jobs/{job_id}/result.raw", "/v1/jobs/{job_id}/result.svg"):
        assert "410" in operations[path]["get"]["responses"], path


def manager_schema() -> dict:
    from fastapi.testclient import TestClient

    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        return client.get("/openapi.json").json()
