"""The OpenAPI document: valid, complete enough for a client to be generated from it, and truthful about errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from openfyp.services import build_services
from openfyp.web.app import create_app
from tests.conftest import _sqlite_copy, make_settings, signup

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def client(tmp_path_factory, _sqlite_template):
    """One deployment for the module: these tests read the document and make a few refused requests."""
    folder = tmp_path_factory.mktemp("openapi")
    services = build_services(make_settings(folder, database_url=_sqlite_copy(_sqlite_template, folder)),
                              run_migrations=False)
    try:
        with TestClient(create_app(services)) as test_client:
            yield test_client
    finally:
        services.close()


@pytest.fixture(scope="module")
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _api_operations(document: dict):
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if path.startswith("/api/") and method in item:
                yield f"{method.upper()} {path}", item[method]


def _error_validator(document: dict) -> OAS31Validator:
    """Validates against the document's own declared error body, resolving its references in the document."""
    return OAS31Validator({**document["components"]["schemas"]["ErrorOut"], "components": document["components"]})


def test_document_is_valid_openapi(document):
    assert document["openapi"].startswith("3.")
    validate(document)  # raises with the offending location; also catches duplicate operation ids


def test_every_api_operation_has_a_summary_and_declares_the_error_envelope(document):
    operations = dict(_api_operations(document))
    assert len(operations) > 50
    undocumented, without_errors = [], []
    for label, operation in operations.items():
        if not operation.get("summary", "").strip():
            undocumented.append(label)
        client_errors = {status: response for status, response in operation["responses"].items()
                         if status.upper() == "4XX" or status.startswith("4")}
        schemas = [response.get("content", {}).get("application/json", {}).get("schema", {})
                   for response in client_errors.values()]
        if not any(schema.get("$ref") == "#/components/schemas/ErrorOut" for schema in schemas):
            without_errors.append(label)
    assert undocumented == [], f"operations without a summary: {undocumented}"
    assert without_errors == [], f"operations that do not declare their error responses: {without_errors}"


def test_declared_error_shape_is_what_the_api_sends(client, document):
    validator = _error_validator(document)
    alice = signup(client, "alice")
    refusals = [
        client.get("/api/auth/me"),  # 401 from a dependency
        alice.get("/api/videos/0"),  # 422 from request validation, with per-field details
        alice.get("/api/videos/424242"),  # 404 from the domain
        client.patch("/api/users/me", content=b"{", headers={**alice.headers, "Content-Type": "application/json"}),
        client.post("/api/auth/signup", content=b"{not json", headers={"Content-Type": "application/json"}),
        client.put("/api/feed/foryou"),  # 405 from the router
        client.get("/api/no-such-thing"),  # 404 from the router
    ]
    for response in refusals:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert list(validator.iter_errors(body)) == [], f"{response.request.url}: {body}"
    assert refusals[1].json()["error"]["details"][0]["field"] == "video_id"


def test_required_error_fields_are_declared_required(document):
    info = document["components"]["schemas"]["ErrorInfo"]
    assert set(info["required"]) == {"code", "message", "field"}


def test_interactive_docs_are_served(client, document):
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in page.text.lower() and "/openapi.json" in page.text
    assert document["info"]["title"] == "openfyp"
