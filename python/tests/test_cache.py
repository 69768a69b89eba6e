"""The application cache (tenant.cache): bytes in and out, TTLs as seconds or timedelta,
tenant isolation, get_or_set running its producer once under concurrent callers, every
error path, and Engine.cache_stats."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

import cidb


def test_set_get_delete(acme: cidb.Tenant) -> None:
    c = acme.cache
    assert c.get("k") is None
    c.set("k", b"value")
    assert c.get("k") == b"value"
    c.set("k", bytearray(b"second"))
    assert c.get("k") == b"second"
    c.set("k", memoryview(b"third"))
    got = c.get("k")
    assert got == b"third" and type(got) is bytes
    assert c.delete("k") is True
    assert c.get("k") is None
    assert c.delete("k") is False
    c.set("empty", b"")
    assert c.get("empty") == b""
    assert "acme" in repr(c)


def test_keys_are_private_to_the_tenant(db: cidb.Engine) -> None:
    a, b = db.tenant("a").cache, db.tenant("b").cache
    a.set("shared", b"from a")
    assert b.get("shared") is None
    b.set("shared", b"from b")
    assert a.get("shared") == b"from a"
    assert b.delete("shared") and a.get("shared") == b"from a"


def test_values_survive_reopen(db_path: Any) -> None:
    with cidb.open(db_path) as db:
        db.tenant("t").cache.set("big", b"x" * 50_000)  # a persistent tier
    with cidb.open(db_path) as db:
        assert db.tenant("t").cache.get("big") == b"x" * 50_000


@pytest.mark.parametrize("ttl", [0.05, timedelta(milliseconds=50)])
def test_ttl_expires(acme: cidb.Tenant, ttl: float | timedelta) -> None:
    c = acme.cache
    c.set("short", b"v", ttl=ttl)
    c.set("long", b"v", ttl=60)
    c.set("forever", b"v")
    assert c.get("short") == b"v"
    time.sleep(0.3)
    assert c.get("short") is None
    assert c.get("long") == b"v" and c.get("forever") == b"v"


def test_tiers_by_size(acme: cidb.Tenant) -> None:
    c = acme.cache
    c.set("small", b"s" * 100)
    c.set("mid", b"m" * 50_000)
    c.set("large", b"l" * 200_000)
    assert (c.tier_of("small"), c.tier_of("mid"), c.tier_of("large"), c.tier_of("none")) == (1, 2, 3, 0)
    assert c.get("large") == b"l" * 200_000


@pytest.mark.parametrize("ttl", [0, -1, 0.0, float("nan"), float("-inf"), timedelta(0), timedelta(seconds=-5)])
def test_non_positive_ttl_is_invalid_ttl(acme: cidb.Tenant, ttl: Any) -> None:
    with pytest.raises(cidb.InvalidTtlError, match="greater than zero"):
        acme.cache.set("k", b"v", ttl=ttl)
    with pytest.raises(ValueError):
        acme.cache.get_or_set("k", lambda: b"v", ttl=ttl)
    assert acme.cache.get("k") is None


@pytest.mark.parametrize("ttl", [1e300, float("inf"), 10**400])
def test_huge_ttl_is_invalid_ttl(acme: cidb.Tenant, ttl: Any) -> None:
    with pytest.raises(cidb.InvalidTtlError, match="too large"):
        acme.cache.set("k", b"v", ttl=ttl)


@pytest.mark.parametrize("ttl", ["10", True, [1], datetime(2024, 1, 1)])
def test_ttl_of_wrong_type_is_type_error(acme: cidb.Tenant, ttl: Any) -> None:
    with pytest.raises(TypeError, match="ttl must be a number of seconds"):
        acme.cache.set("k", b"v", ttl=ttl)


def test_bad_keys(acme: cidb.Tenant) -> None:
    c = acme.cache
    for call in (lambda: c.get(""), lambda: c.set("", b"v"), lambda: c.delete(""), lambda: c.tier_of("")):
        with pytest.raises(cidb.InvalidCacheKeyError, match="empty"):
            call()
    c.set("k" * 1024, b"v")  # exactly the limit
    with pytest.raises(cidb.InvalidCacheKeyError, match="1025 bytes; the limit is 1024"):
        c.set("k" * 1025, b"v")
    with pytest.raises(cidb.InvalidCacheKeyError):
        c.get_or_set("", lambda: b"v")
    with pytest.raises(ValueError):  # InvalidCacheKeyError is a ValueError
        c.get("é" * 513)
    with pytest.raises(TypeError):
        c.get(1)  # type: ignore[arg-type]


def test_value_too_large(acme: cidb.Tenant) -> None:
    limit = 16 << 20
    acme.cache.set("max", b"\0" * limit)
    with pytest.raises(cidb.ValueTooLargeError, match=f"{limit + 1} bytes; the limit is {limit}"):
        acme.cache.set("over", b"\0" * (limit + 1))
    with pytest.raises(cidb.ValueTooLargeError):
        acme.cache.get_or_set("over", lambda: b"\0" * (limit + 1))
    assert acme.cache.get("over") is None


@pytest.mark.parametrize("value", ["text", 1, None, [1, 2]])
def test_value_must_be_bytes(acme: cidb.Tenant, value: Any) -> None:
    with pytest.raises(TypeError, match="value must be bytes"):
        acme.cache.set("k", value)
    with pytest.raises(TypeError, match=r"encode\(\)"):
        acme.cache.set("k", "text")  # type: ignore[arg-type]


def test_get_or_set_calls_fn_only_when_absent(acme: cidb.Tenant) -> None:
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return b"made"

    c = acme.cache
    assert c.get_or_set("k", make, ttl=60) == b"made"
    assert c.get_or_set("k", make) == b"made"
    assert len(calls) == 1 and c.get("k") == b"made"
    c.set("other", b"present")
    assert c.get_or_set("other", make) == b"present" and len(calls) == 1
    assert c.get_or_set("ba", lambda: bytearray(b"ba")) == b"ba"


def test_get_or_set_runs_fn_once_under_concurrent_callers(acme: cidb.Tenant) -> None:
    calls: list[int] = []
    started = threading.Event()

    def slow() -> bytes:
        calls.append(1)
        started.set()
        time.sleep(0.3)  # every other thread arrives while this one computes
        return b"computed"

    results: list[bytes] = []
    lock = threading.Lock()

    def worker() -> None:
        v = acme.cache.get_or_set("hot", slow)
        with lock:
            results.append(v)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"computed"] * 8
    assert len(calls) == 1
    assert started.is_set()


def test_get_or_set_propagates_fn_exception_and_stores_nothing(acme: cidb.Tenant) -> None:
    class Boom(Exception):
        pass

    def fail() -> bytes:
        raise Boom("no value")

    with pytest.raises(Boom, match="no value"):
        acme.cache.get_or_set("k", fail)
    assert acme.cache.get("k") is None
    assert acme.cache.get_or_set("k", lambda: b"second try") == b"second try"


def test_get_or_set_from_its_own_fn(acme: cidb.Tenant) -> None:
    c = acme.cache

    def outer() -> bytes:
        inner = c.get_or_set("inner", lambda: b"in")  # another key: fine
        return b"out+" + inner

    assert c.get_or_set("outer", outer) == b"out+in"

    def same() -> bytes:
        return c.get_or_set("self", same)  # would wait for itself forever

    with pytest.raises(cidb.InvalidInputError, match="called from its own fn"):
        c.get_or_set("self", same)
    assert c.get("self") is None
    assert c.get_or_set("self", lambda: b"later") == b"later"  # the key is not stuck


def test_get_or_set_rejects_bad_fn(acme: cidb.Tenant) -> None:
    with pytest.raises(TypeError, match="fn must be callable"):
        acme.cache.get_or_set("k", b"not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the value fn returned must be bytes"):
        acme.cache.get_or_set("k", lambda: "text")  # type: ignore[arg-type, return-value]
    assert acme.cache.get("k") is None


def test_cache_stats(db: cidb.Engine, acme: cidb.Tenant) -> None:
    s0 = db.cache_stats()
    assert set(s0) >= {"l1", "l2", "l3", "hourly", "result_hits", "result_misses", "warmed"}
    acme.cache.set("k", b"v")
    for _ in range(5):
        acme.cache.get("k")
    acme.cache.get("missing")
    s1 = db.cache_stats()
    assert s1["l1"]["hits"] - s0["l1"]["hits"] >= 5
    assert s1["l1"]["entries"] >= 1 and s1["l1"]["bytes"] > 0
    assert 0 < s1["l1"]["hit_ratio"] <= 1
    assert len(s1["hourly"]) == 24
    hours = [h["hour_start"] for h in s1["hourly"]]
    assert all(isinstance(h, datetime) and h.tzinfo is not None for h in hours)
    assert hours == sorted(hours) and hours[1] - hours[0] == timedelta(hours=1)
    assert s1["hourly"][-1]["accesses"] > 0


def test_closed_engine(db: cidb.Engine, acme: cidb.Tenant) -> None:
    c = acme.cache
    c.set("k", b"v")
    db.close()
    for call in (lambda: c.get("k"), lambda: c.set("k", b"v"), lambda: c.delete("k"),
                 lambda: c.get_or_set("k", lambda: b"v"), db.cache_stats):
        with pytest.raises(cidb.ClosedError):
            call()
