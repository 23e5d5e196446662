"""Shared fixtures: a real deployment (database, media folder, event log) per test, on SQLite or PostgreSQL.

PostgreSQL runs when ``OPENFYP_TEST_POSTGRES_URL`` points at a server whose user may create databases
(``.ci/run`` starts one). Each test gets a database of its own, dropped afterwards. With
``OPENFYP_REQUIRE_POSTGRES=1`` (set by CI) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from openfyp.services import Services, build_services
from openfyp.settings import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POSTGRES_URL = os.environ.get("OPENFYP_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("OPENFYP_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("OPENFYP_TEST_POSTGRES_URL is not set but OPENFYP_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server (set OPENFYP_TEST_POSTGRES_URL)")
    name = f"openfyp_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    """Parametrises a test over both supported databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openfyp.db'}"
    return request.getfixturevalue("postgres_url")


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "region": "us", "job_workers": 0, "secret_key": "test-secret",
              "write_rate_per_minute": 10_000}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """SQLite settings; tests that must also run on PostgreSQL use ``any_db_settings``."""
    return make_settings(tmp_path)


@pytest.fixture
def any_db_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def any_db_services(any_db_settings: Settings) -> Iterator[Services]:
    built = build_services(any_db_settings)
    try:
        yield built
    finally:
        built.close()


def _client_for(services: Services):
    from fastapi.testclient import TestClient

    from openfyp.web.app import create_app

    return TestClient(create_app(services))


@pytest.fixture
def client(services: Services):
    with _client_for(services) as test_client:
        yield test_client


@pytest.fixture
def any_db_client(any_db_services: Services):
    with _client_for(any_db_services) as test_client:
        yield test_client


class ApiUser:
    """A signed-in API client (bearer token), for tests that act as several people."""

    def __init__(self, client, username: str, token: str, user_id: int) -> None:
        self.client, self.username, self.token, self.id = client, username, token, user_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw):
        return self.client.post(url, headers=self.headers, **kw)

    def delete(self, url: str, **kw):
        return self.client.delete(url, headers=self.headers, **kw)

    def patch(self, url: str, **kw):
        return self.client.patch(url, headers=self.headers, **kw)


def signup(client, username: str, *, birth_date: str = "1990-01-01", password: str = "correct horse") -> ApiUser:
    response = client.post("/api/auth/signup", json={
        "username": username, "password": password, "birth_date": birth_date, "session": "bearer"})
    assert response.status_code == 201, response.text
    body = response.json()
    return ApiUser(client, username, body["token"], body["user"]["id"])


@pytest.fixture
def make_user(client):
    return lambda username, **kw: signup(client, username, **kw)
