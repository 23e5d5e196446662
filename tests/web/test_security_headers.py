"""Every HTTP response carries the security headers: pages, JSON, errors and static files alike."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from openfyp.web.app import create_app

EXPECTED = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}


def _security_headers(response) -> dict[str, str]:
    return {name: response.headers.get(name) for name in EXPECTED}


def test_every_kind_of_response_carries_the_security_headers(client):
    for path, status in (("/api/feed/foryou", 200), ("/api/feed/following", 401), ("/api/videos/999999", 404),
                         ("/", 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert _security_headers(response) == EXPECTED, path


def test_a_header_the_response_sets_itself_is_kept(services):
    app = create_app(services)

    @app.get("/framed")
    def framed() -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"X-Frame-Options": "SAMEORIGIN"})

    with TestClient(app) as test_client:
        response = test_client.get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"
