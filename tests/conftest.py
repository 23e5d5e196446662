"""Shared fixtures: a real deployment (database, media folder, event log) per test, on SQLite or PostgreSQL.

PostgreSQL runs when ``OPENFYP_TEST_POSTGRES_URL`` points at a server whose user may create databases
(``.ci/run`` starts one). Each test gets a database of its own, dropped afterwards. With
``OPENFYP_REQUIRE_POSTGRES=1`` (set by CI) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from openfyp.services import Services, build_services
from openfyp.settings import Settings
from openfyp.store import make_engine, migrate

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POSTGRES_URL = os.environ.get("OPENFYP_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("OPENFYP_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


def _admin_engine():
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _create_database(name: str, template: str | None = None) -> str:
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _need_postgres() -> None:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("OPENFYP_TEST_POSTGRES_URL is not set but OPENFYP_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server (set OPENFYP_TEST_POSTGRES_URL)")


# Migrating takes far longer than copying, so each test process migrates one template per database kind and
# every test gets a fresh copy of it.
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    _need_postgres()
    name = f"openfyp_tpl_{uuid.uuid4().hex[:10]}"
    url = _create_database(name)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield name
    finally:
        _drop_database(name)


@pytest.fixture
def blank_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (no migrations applied), for migration tests."""
    _need_postgres()
    name = f"openfyp_t_{uuid.uuid4().hex[:12]}"
    try:
        yield _create_database(name)
    finally:
        _drop_database(name)


@pytest.fixture
def postgres_url(_postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, already migrated."""
    name = f"openfyp_t_{uuid.uuid4().hex[:12]}"
    try:
        yield _create_database(name, template=_postgres_template)
    finally:
        _drop_database(name)


def _sqlite_copy(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "data" / "openfyp.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    """Parametrises a test over both supported databases; the database is migrated and empty."""
    if request.param == "sqlite":
        return _sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path)
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_database_url(request, tmp_path: Path) -> str:
    """Like ``database_url`` but with no migrations applied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    return request.getfixturevalue("blank_postgres_url")


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "region": "us", "job_workers": 0, "secret_key": "test-secret",
              "write_rate_per_minute": 10_000}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, _sqlite_template: Path) -> Settings:
    """SQLite settings; tests that must also run on PostgreSQL use ``any_db_settings``."""
    return make_settings(tmp_path, database_url=_sqlite_copy(_sqlite_template, tmp_path))


@pytest.fixture
def any_db_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, run_migrations=False)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def any_db_services(any_db_settings: Settings) -> Iterator[Services]:
    built = build_services(any_db_settings, run_migrations=False)
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
