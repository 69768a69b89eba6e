"""Shared fixtures: a fresh database directory per test, an open engine on it, a tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cidb

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in ms


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture
def db(db_path: Path) -> Iterator[cidb.Engine]:
    engine = cidb.open(db_path)
    yield engine
    engine.close()


@pytest.fixture
def acme(db: cidb.Engine) -> cidb.Tenant:
    return db.tenant("acme")
