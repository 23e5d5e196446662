from __future__ import annotations

from tests.conftest import signup


def test_signup_login_me_logout_with_bearer(any_db_client):
    alice = signup(any_db_client, "alice")
    me = alice.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "alice"
    login = any_db_client.post("/api/auth/login", json={"username": "alice", "password": "correct horse",
                                                        "session": "bearer"})
    assert login.status_code == 200 and login.json()["token"]
    assert alice.post("/api/auth/logout").status_code == 204
    after = alice.get("/api/auth/me")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"


def test_password_is_stored_as_argon2id(services, client):
    from openfyp.store.tables import User

    signup(client, "bob")
    with services.session_factory() as db:
        stored = db.query(User).filter_by(username="bob").one().password_hash
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_wrong_password_and_duplicate_username_are_structured_errors(client):
    signup(client, "carol")
    wrong = client.post("/api/auth/login", json={"username": "carol", "password": "nope nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "bad_credentials"
    dup = client.post("/api/auth/signup", json={"username": "carol", "password": "another pass",
                                                "birth_date": "1990-01-01"})
    assert dup.status_code == 409
    assert dup.json()["error"] == {"code": "username_taken", "message": "that username is taken", "field": "username"}


def test_bad_signup_input_is_a_4xx_never_a_500(client):
    cases = [
        ({"username": "x", "password": "longenough", "birth_date": "1990-01-01"}, 422),
        ({"username": "dave", "password": "short", "birth_date": "1990-01-01"}, 422),
        ({"username": "dave", "password": "longenough", "birth_date": "not-a-date"}, 422),
        ({"username": "dave", "password": "longenough", "birth_date": "2099-01-01"}, 422),
        ({"username": "dave", "password": "longenough", "birth_date": "2020-01-01"}, 403),
        ({"username": "dave", "password": "longenough", "birth_date": "1990-01-01", "extra": 1}, 422),
        ({"username": 12, "password": "longenough", "birth_date": "1990-01-01"}, 422),
    ]
    for body, status in cases:
        response = client.post("/api/auth/signup", json=body)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()["error"]) >= {"code", "message", "field"}
    malformed = client.post("/api/auth/signup", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"


def test_cookie_session_needs_csrf_header_for_writes(client):
    response = client.post("/api/auth/signup", json={"username": "erin", "password": "correct horse",
                                                     "birth_date": "1990-01-01"})
    assert response.status_code == 201
    csrf = response.json()["csrf_token"]
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert client.get("/api/auth/me").status_code == 200
    refused = client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_control_characters_never_reach_the_database(any_db_client):
    # PostgreSQL refuses NUL in text; a login name or sign-up display name carrying one used to fail with a 500.
    signup(any_db_client, "dave")
    login = any_db_client.post("/api/auth/login", json={"username": "da\x00ve", "password": "correct horse"})
    assert login.status_code == 401 and login.json()["error"]["code"] == "bad_credentials"

    created = any_db_client.post("/api/auth/signup", json={
        "username": "erin", "password": "correct horse", "birth_date": "1990-01-01", "session": "bearer",
        "display_name": " Erin\x00 \x07the  Great "})
    assert created.status_code == 201, created.text
    assert created.json()["user"]["display_name"] == "Erin the Great"  # the same rule as editing it later
    blank = any_db_client.post("/api/auth/signup", json={
        "username": "fay", "password": "correct horse", "birth_date": "1990-01-01", "display_name": "\x00 "})
    assert blank.status_code == 201 and blank.json()["user"]["display_name"] == "fay"
