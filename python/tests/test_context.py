"""Conversation context: merge, trim to max_history by timestamp, TTL as seconds or
timedelta, atomic under concurrent writers, sweep_expired, and every error path."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import cidb
from conftest import T0


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def test_update_get_delete(acme: cidb.Tenant) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    ctx = acme.update_context(
        "conv-1",
        [
            {"role": "user", "content": "hello", "timestamp": T0, "metadata": {"lang": "en"}},
            {"role": "assistant", "content": "hi!", "timestamp": utc(T0 + 5)},
        ],
        ttl=60,
    )
    assert ctx["conversation_id"] == "conv-1"
    assert [(e["role"], e["content"], e["timestamp"], e["metadata"]) for e in ctx["entries"]] == [
        ("user", "hello", utc(T0), {"lang": "en"}),
        ("assistant", "hi!", utc(T0 + 5), {}),
    ]
    assert before < ctx["updated_at"] and ctx["expires_at"] - ctx["updated_at"] == timedelta(seconds=60)
    assert acme.get_context("conv-1") == ctx
    assert acme.get_context("other") is None
    assert acme.delete_context("conv-1") is True
    assert acme.get_context("conv-1") is None
    assert acme.delete_context("conv-1") is False


def test_entries_merge_and_keep_the_newest(acme: cidb.Tenant) -> None:
    acme.update_context("c", [{"role": "user", "content": f"m{i}", "timestamp": T0 + i} for i in (0, 2, 4)], ttl=60)
    # an older entry arriving late is placed by timestamp; max_history keeps the newest
    ctx = acme.update_context("c", [{"role": "tool", "content": "late", "timestamp": T0 + 1}], ttl=60, max_history=3)
    assert [e["content"] for e in ctx["entries"]] == ["late", "m2", "m4"]
    ctx = acme.update_context("c", [], ttl=timedelta(minutes=5), max_history=2)
    assert [e["content"] for e in ctx["entries"]] == ["m2", "m4"]
    assert ctx["expires_at"] - ctx["updated_at"] == timedelta(minutes=5)


def test_default_timestamp_is_now_and_default_max_history_is_50(acme: cidb.Tenant) -> None:
    now = datetime.now(timezone.utc)
    ctx = acme.update_context("c", [{"role": "user", "content": str(i)} for i in range(60)], ttl=60)
    assert len(ctx["entries"]) == 50
    assert [e["content"] for e in ctx["entries"]] == [str(i) for i in range(10, 60)]  # ties keep arrival order
    assert abs(ctx["entries"][0]["timestamp"] - now) < timedelta(seconds=5)


@pytest.mark.parametrize("ttl", [0.05, timedelta(milliseconds=50)])
def test_ttl_expiry_and_sweep(db: cidb.Engine, acme: cidb.Tenant, ttl: float | timedelta) -> None:
    for i in range(3):
        acme.update_context(f"short{i}", [{"role": "user", "content": "x"}], ttl=ttl)
    acme.update_context("long", [{"role": "user", "content": "x"}], ttl=60)
    time.sleep(0.3)
    assert acme.get_context("short0") is None
    assert acme.delete_context("short1") is False  # expired: not live
    # an expired context counts as empty when updated again
    ctx = acme.update_context("short2", [{"role": "user", "content": "new"}], ttl=60)
    assert [e["content"] for e in ctx["entries"]] == ["new"]
    assert db.sweep_expired() == 1  # short0; short1 was deleted, short2 is live again
    assert db.sweep_expired() == 0
    assert acme.get_context("long") is not None and acme.get_context("short2") is not None


def test_tenants_do_not_share_contexts(db: cidb.Engine) -> None:
    db.tenant("a").update_context("c", [{"role": "user", "content": "a"}], ttl=60)
    assert db.tenant("b").get_context("c") is None
    assert db.tenant("b").delete_context("c") is False


def test_concurrent_updates_are_atomic(acme: cidb.Tenant) -> None:
    threads_n, per_thread = 8, 20
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                acme.update_context("shared", [{"role": "user", "content": f"{k}-{i}", "timestamp": T0 + i}],
                                    ttl=60, max_history=1000)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ctx = acme.get_context("shared")
    assert ctx is not None
    contents = [e["content"] for e in ctx["entries"]]
    assert sorted(contents) == sorted(f"{k}-{i}" for k in range(threads_n) for i in range(per_thread))
    for k in range(threads_n):  # each writer's entries keep their order
        mine = [c for c in contents if c.startswith(f"{k}-")]
        assert mine == [f"{k}-{i}" for i in range(per_thread)]


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), timedelta(0)])
def test_bad_ttl(acme: cidb.Tenant, ttl: Any) -> None:
    with pytest.raises(cidb.InvalidTtlError):
        acme.update_context("c", [{"role": "user", "content": "x"}], ttl=ttl)
    assert acme.get_context("c") is None


@pytest.mark.parametrize(
    ("entries", "error", "match"),
    [
        ([{"content": "x"}], cidb.InvalidInputError, "missing required field 'role'"),
        ([{"role": "user"}], cidb.InvalidInputError, "missing required field 'content'"),
        ([{"role": "boss", "content": "x"}], cidb.InvalidRoleError, "boss"),
        ([{"role": "user", "content": "x", "colour": 1}], cidb.InvalidInputError, "no field 'colour'"),
        ([{"role": "user", "content": "x", "metadata": [1]}], cidb.InvalidAttributesError, "metadata"),
        ([{"role": "user", "content": "x", "timestamp": -5}], cidb.InvalidTimestampError, "timestamp"),
        ([{"role": "user", "content": "x" * ((1 << 20) + 1)}], cidb.ContentTooLargeError, "content"),
        ([{"role": "user", "content": 5}], TypeError, "content must be str"),
        ([{"role": "user", "content": "x", "timestamp": 1.5}], TypeError, "timestamp must be"),
        ([["role", "user"]], TypeError, "context entry must be a dict"),
    ],
)
def test_bad_entries(acme: cidb.Tenant, entries: Any, error: type[Exception], match: str) -> None:
    good = {"role": "user", "content": "fine"}
    with pytest.raises(error, match=match):
        acme.update_context("c", [good, *entries], ttl=60)
    assert acme.get_context("c") is None  # nothing lands


def test_bad_arguments(acme: cidb.Tenant) -> None:
    entry = [{"role": "user", "content": "x"}]
    with pytest.raises(TypeError, match="wrap a single entry in a list"):
        acme.update_context("c", {"role": "user", "content": "x"}, ttl=60)  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        acme.update_context("c", 5, ttl=60)  # type: ignore[arg-type]
    for max_history in (0, -1):
        with pytest.raises(cidb.InvalidInputError, match="max_history"):
            acme.update_context("c", entry, ttl=60, max_history=max_history)
    with pytest.raises(cidb.InvalidIdError):
        acme.update_context("", entry, ttl=60)
    with pytest.raises(cidb.InvalidIdError):
        acme.get_context("x" * 257)
    with pytest.raises(cidb.InvalidIdError):
        acme.delete_context("")
    assert acme.get_context("c") is None


def test_closed_engine(db: cidb.Engine, acme: cidb.Tenant) -> None:
    db.close()
    for call in (
        lambda: acme.update_context("c", [], ttl=60),
        lambda: acme.get_context("c"),
        lambda: acme.delete_context("c"),
        db.sweep_expired,
    ):
        with pytest.raises(cidb.ClosedError):
            call()
