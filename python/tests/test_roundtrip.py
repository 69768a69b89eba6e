"""Records written through the binding read back the same, also after close and reopen;
every Tenant method does what its Rust counterpart does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import cidb
from conftest import T0

UTC = timezone.utc


def ms(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def test_write_close_reopen_read_back(db_path: Path) -> None:
    attrs = {"plan": "pro", "seats": 12, "ratio": 0.25, "tags": ["a", "b"], "nested": {"x": None, "ok": True}}
    with cidb.open(db_path) as db:
        t = db.tenant("acme")
        t.upsert_customer(
            id="c1", email="ada@example.com", name="Ada", department="sales", status="active",
            created_at=T0, updated_at=T0 + 5, attributes=attrs,
        )
        t.upsert_customers([{"id": f"c{i}", "department": "support", "created_at": T0} for i in range(2, 12)])
        t.add_scores([
            {"customer_id": "c1", "score_type": "churn", "score": 0.1 * i, "confidence": 0.5, "created_at": T0 + i}
            for i in range(5)
        ])
        sent = t.append_messages([
            {"customer_id": "c1", "conversation_id": "conv", "role": r, "timestamp": T0 + i, "content": f"m{i}",
             "metadata": {"i": i}}
            for i, r in enumerate(["user", "assistant", "tool"])
        ])
    assert db.closed

    with cidb.open(db_path) as db:
        t = db.tenant("acme")
        c = t.get_customer("c1")
        assert c == {
            "id": "c1", "email": "ada@example.com", "name": "Ada", "department": "sales", "status": "active",
            "created_at": datetime.fromtimestamp(T0 / 1000, UTC),
            "updated_at": datetime.fromtimestamp((T0 + 5) / 1000, UTC),
            "attributes": attrs,
        }
        assert t.count_customers() == 11
        hist = t.score_history("c1", "churn")
        assert [s["score"] for s in hist] == [0.1 * i for i in range(5)]
        assert [ms(s["created_at"]) for s in hist] == [T0 + i for i in range(5)]
        assert t.latest_score("c1", "churn") == hist[-1]
        assert t.messages_for_conversation("conv") == sent
        assert db.stats()["customers"] == 11
        assert db.stats()["scores"] == 5
        assert db.stats()["messages"] == 3


def test_upsert_replaces_whole_record_and_keywords_override_dict(acme: cidb.Tenant) -> None:
    acme.upsert_customer({"id": "c1", "email": "a@x", "status": "trial"}, status="active")
    c = acme.get_customer("c1")
    assert c is not None and (c["email"], c["status"]) == ("a@x", "active")
    acme.upsert_customer(id="c1", department="sales")
    c = acme.get_customer("c1")
    assert c is not None
    assert (c["email"], c["status"], c["department"], c["attributes"]) == (None, "", "sales", {})
    assert acme.count_customers() == 1


def test_defaults_use_now(acme: cidb.Tenant) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    acme.upsert_customer(id="c1")
    acme.add_score(customer_id="c1", score_type="s", score=1, confidence=0)
    m = acme.append_message(customer_id="c1", conversation_id="k", role="system", content="")
    after = datetime.now(UTC) + timedelta(seconds=1)
    c = acme.get_customer("c1")
    s = acme.latest_score("c1", "s")
    assert c is not None and s is not None
    for t in (c["created_at"], c["updated_at"], s["created_at"], m["timestamp"]):
        assert before <= t <= after
    assert c["created_at"] == c["updated_at"]
    assert m["metadata"] == {} and s["model"] is None and s["score"] == 1.0


def test_none_means_not_given(acme: cidb.Tenant) -> None:
    acme.upsert_customer(id="c1", email=None, department=None, attributes=None, created_at=None)
    c = acme.get_customer("c1")
    assert c is not None and (c["email"], c["department"], c["attributes"]) == (None, "", {})


def test_get_and_delete(acme: cidb.Tenant) -> None:
    assert acme.get_customer("nobody") is None
    assert acme.delete_customer("nobody") is False
    acme.upsert_customer(id="c1")
    acme.add_score(customer_id="c1", score_type="s", score=0.5, confidence=0.5, created_at=T0)
    assert acme.delete_customer("c1") is True
    assert acme.get_customer("c1") is None
    assert acme.count_customers() == 0
    assert acme.latest_score("c1", "s") is not None  # history stays


def test_latest_score_is_latest_by_time_not_by_insert(acme: cidb.Tenant) -> None:
    acme.add_score(customer_id="c1", score_type="churn", score=0.9, confidence=1, created_at=T0 + 10)
    acme.add_score(customer_id="c1", score_type="churn", score=0.1, confidence=1, created_at=T0)
    s = acme.latest_score("c1", "churn")
    assert s is not None and s["score"] == 0.9
    assert acme.latest_score("c1", "other") is None


def test_score_history_range_is_half_open(acme: cidb.Tenant) -> None:
    acme.add_scores([
        {"customer_id": "c1", "score_type": "s", "score": i / 10, "confidence": 1, "created_at": T0 + i * 1000}
        for i in range(10)
    ])
    got = acme.score_history("c1", "s", start=T0 + 2000, end=T0 + 5000)
    assert [s["score"] for s in got] == [0.2, 0.3, 0.4]
    # datetime bounds mean the same instants
    start = datetime.fromtimestamp((T0 + 2000) / 1000, UTC)
    assert acme.score_history("c1", "s", start, start + timedelta(seconds=3)) == got
    assert len(acme.score_history("c1", "s", end=T0 + 3000)) == 3
    assert len(acme.score_history("c1", "s", start=T0 + 9000)) == 1
    assert acme.score_history("c1", "s", start=T0 + 5000, end=T0 + 5000) == []
    assert acme.score_history("c1", "s", start=T0 + 5000, end=T0) == []


def test_messages_for_customer_filters(acme: cidb.Tenant) -> None:
    roles = ["user", "assistant", "system", "agent", "tool"] * 4
    stored = acme.append_messages([
        {"customer_id": "c1", "conversation_id": f"k{i % 2}", "role": r, "timestamp": T0 + i, "content": str(i)}
        for i, r in enumerate(roles)
    ])
    acme.append_message(customer_id="c2", conversation_id="k0", role="user", content="other", timestamp=T0)
    ids = [m["id"] for m in stored]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    assert acme.messages_for_customer("c1") == stored
    users = acme.messages_for_customer("c1", role="user")
    assert [m["content"] for m in users] == ["0", "5", "10", "15"]
    assert acme.messages_for_customer("c1", role="user", limit=2) == users[:2]
    window = acme.messages_for_customer("c1", start=T0 + 3, end=T0 + 7)
    assert [m["content"] for m in window] == ["3", "4", "5", "6"]
    assert acme.messages_for_customer("nobody") == []
    conv = acme.messages_for_conversation("k0")
    assert [m["content"] for m in conv] == [str(i) for i in range(0, 20, 2)] + ["other"]


def test_tenants_are_isolated(db: cidb.Engine) -> None:
    a, b = db.tenant("a"), db.tenant("b")
    a.upsert_customer(id="c1", name="in a")
    a.append_message(customer_id="c1", conversation_id="k", role="user", content="x")
    assert b.get_customer("c1") is None
    assert b.count_customers() == 0
    assert b.messages_for_conversation("k") == []
    assert a.name == "a" and repr(b) == "<cidb.Tenant \"b\">"


def test_mapping_that_is_not_a_dict_is_accepted(acme: cidb.Tenant) -> None:
    from types import MappingProxyType

    acme.upsert_customer(MappingProxyType({"id": "c1", "status": "x"}))
    c = acme.get_customer("c1")
    assert c is not None and c["status"] == "x"
    acme.upsert_customers(({"id": f"g{i}"} for i in range(3)))  # any iterable
    assert acme.count_customers() == 4


def test_engine_properties_and_context_manager(db_path: Path) -> None:
    db = cidb.open(str(db_path), profile="production")
    assert db.profile == "production" and db.path == db_path and not db.closed
    with db as same:
        assert same is db
    assert db.closed
    db.close()  # idempotent
    assert "closed" in repr(db)
    with pytest.raises(cidb.ClosedError):
        with db:
            pass


def test_context_manager_closes_on_exception(db_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with cidb.open(db_path) as db:
            db.tenant("t").upsert_customer(id="c1")
            raise RuntimeError("boom")
    assert db.closed
    with cidb.open(db_path) as db:  # the directory was released
        assert db.tenant("t").count_customers() == 1


def test_stats_counts_writes(db: cidb.Engine, acme: cidb.Tenant) -> None:
    s0 = db.stats()
    assert list(s0) == [
        "customers", "scores", "latest_scores", "messages", "commits", "writes", "failed_writes", "max_commit_group",
        "breaker",
    ]
    assert s0["breaker"] == {"state": "closed", "failures": 0, "opened": 0, "rejected": 0, "last_error": None}
    acme.upsert_customer(id="c1")
    acme.add_score(customer_id="c1", score_type="s", score=0.5, confidence=0.5)
    with pytest.raises(cidb.InvalidScoreError):
        acme.add_score(customer_id="c1", score_type="s", score=2, confidence=0.5)
    s1 = db.stats()
    assert (s1["customers"], s1["scores"], s1["latest_scores"]) == (1, 1, 1)
    assert s1["writes"] - s0["writes"] == 2
    assert all(isinstance(v, int) for k, v in s1.items() if k != "breaker")


def test_unicode_and_large_content_round_trip(acme: cidb.Tenant) -> None:
    text = "héllo ✓ 日本語 🚀" * 1000
    m = acme.append_message(customer_id="ç1", conversation_id="κ", role="agent", content=text)
    assert acme.messages_for_conversation("κ") == [m]
    assert m["content"] == text
    big = "x" * (1 << 20)  # exactly the limit
    assert acme.append_message(customer_id="c", conversation_id="k", role="user", content=big)["content"] == big
