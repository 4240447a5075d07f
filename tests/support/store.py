"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL is reached at ``GATEWAY_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test session creates its
own database next to it and drops it at the end, and each test starts from an
empty, migrated store. Without PostgreSQL the PostgreSQL cases skip, except
when ``CI`` is set: then they fail, because CI must prove both engines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import peewee
import psycopg2
import pytest

from gateway import settings as settings_module
from gateway.mapping.registry import import_shipped
from gateway.settings import Settings
from gateway.store.database import open_database
from gateway.store.migrations import migrate
from gateway.store.models import ALL_MODELS, database_proxy

ADMIN_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ["sqlite", "postgresql"]


@dataclass
class StoreHandle:
    engine: str
    url: str
    db: peewee.Database
    settings: Settings
    home: Path


def _admin_connection():
    connection = psycopg2.connect(ADMIN_URL, connect_timeout=3)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Create a database for this test session and return its URL."""
    try:
        connection = _admin_connection()
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}")
    name = f"gateway_test_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.close()


def make_settings(home: Path, url: str, **overrides: object) -> Settings:
    environ = {"GATEWAY_HOME": str(home), "GATEWAY_STORE__URL": url}
    return settings_module.load(environ=environ, overrides=overrides or None)


def _empty(db: peewee.Database) -> None:
    db.drop_tables(list(reversed(ALL_MODELS)), safe=True, cascade=True)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHandle]:
    """An empty, migrated store with the shipped mappings, on each engine in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = make_settings(tmp_path, url)
    db = open_database(settings.store_url)
    if request.param == "postgresql":
        _empty(db)
    migrate(db)
    import_shipped()
    try:
        yield StoreHandle(request.param, settings.store_url, db, settings, tmp_path)
    finally:
        if request.param == "postgresql":
            _empty(db)
        db.close()
        database_proxy.initialize(None)
