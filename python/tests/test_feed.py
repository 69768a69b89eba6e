"""The change feed: iterator and callback subscriptions, filters, the missed-events
notice, events_since, engine-wide subscriptions, closing, and every error path."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import cidb
from cidb.types import Delivery, Event


def event(d: Delivery | None) -> Event:
    assert d is not None and "event" in d, d
    return d["event"]


def drain(sub: cidb.Subscription, timeout: float = 0.2) -> list[Delivery]:
    out = []
    while (d := sub.recv(timeout=timeout)) is not None:
        out.append(d)
    return out


def test_iterator_subscription_receives_committed_changes(acme: cidb.Tenant) -> None:
    with acme.subscribe() as sub:
        acme.upsert_customer(id="c1", name="Ada", created_at=1_700_000_000_000)
        acme.upsert_customer(id="c1", name="Ada L.")
        acme.delete_customer("c1")
        got = [event(d) for d in drain(sub)]
    assert [(e["table"], e["op"], e["key"]) for e in got] == [
        ("customers", "insert", "c1"), ("customers", "update", "c1"), ("customers", "delete", "c1"),
    ]
    ins, upd, dele = got
    assert ins["tenant"] == "acme" and ins["old"] is None
    assert ins["new"] is not None and ins["new"]["name"] == "Ada" and ins["new"]["tenant_id"] == "acme"
    assert ins["new"]["created_at"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert upd["old"] is not None and upd["old"]["name"] == "Ada" and upd["new"] is not None
    assert dele["new"] is None and dele["old"] is not None
    assert ins["seq"] < upd["seq"] < dele["seq"]
    assert isinstance(ins["at"], datetime) and abs(ins["at"] - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert sub.closed


def test_for_loop_ends_when_closed_from_another_thread(acme: cidb.Tenant) -> None:
    sub = acme.subscribe(tables=["conversation_messages"])
    seen: list[str] = []

    def consume() -> None:
        for d in sub:
            seen.append(event(d)["new"]["content"])  # type: ignore[index]
            if len(seen) == 3:
                sub.close()

    th = threading.Thread(target=consume)
    th.start()
    for i in range(5):
        acme.append_message(customer_id="c", conversation_id="k", role="user", content=f"m{i}")
    th.join(timeout=10)
    assert not th.is_alive()
    assert seen == ["m0", "m1", "m2"]
    assert sub.recv(timeout=0) is None  # closed: nothing more


def test_recv_waits_with_the_gil_released(acme: cidb.Tenant) -> None:
    sub = acme.subscribe()
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    th = threading.Thread(target=spin)
    th.start()
    t0 = time.monotonic()
    assert sub.recv(timeout=0.3) is None
    waited = time.monotonic() - t0
    stop.set()
    th.join()
    assert 0.25 <= waited < 5
    assert ticks > 20  # the other thread ran while recv waited
    assert sub.recv(timeout=timedelta(0)) is None
    sub.close()


def test_callback_subscription(acme: cidb.Tenant) -> None:
    got: list[Delivery] = []
    threads: set[int] = set()
    done = threading.Event()

    def on(d: Delivery) -> None:
        got.append(d)
        threads.add(threading.get_ident())
        if len(got) == 2:
            done.set()

    sub = acme.subscribe(on, tables="customer_scores")
    acme.upsert_customer(id="c1")  # filtered out
    acme.add_score(customer_id="c1", score_type="churn", score=0.5, confidence=1)
    acme.add_score(customer_id="c1", score_type="churn", score=0.6, confidence=1)
    assert done.wait(10)
    sub.close()
    assert [event(d)["new"]["score"] for d in got] == [0.5, 0.6]  # type: ignore[index]
    assert threading.get_ident() not in threads  # delivered on the delivery thread
    acme.add_score(customer_id="c1", score_type="churn", score=0.7, confidence=1)
    time.sleep(0.2)
    assert len(got) == 2  # nothing after close
    with pytest.raises(TypeError, match="delivers to its callback"):
        sub.recv()
    with pytest.raises(TypeError):
        iter(sub)
    assert "callback" in repr(sub) and "closed" in repr(sub)


def test_callback_exceptions_go_to_unraisablehook_and_delivery_continues(
    acme: cidb.Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", hooked.append)
    got: list[str] = []
    done = threading.Event()

    def on(d: Delivery) -> None:
        key = event(d)["key"]
        got.append(key)
        if key == "bad":
            raise ValueError("callback failed")
        if key == "after":
            done.set()

    with acme.subscribe(on, tables="customers"):
        acme.upsert_customer(id="bad")
        acme.upsert_customer(id="after")
        assert done.wait(10)
    assert got == ["bad", "after"]
    assert len(hooked) == 1
    assert isinstance(hooked[0].exc_value, ValueError) and str(hooked[0].exc_value) == "callback failed"
    assert hooked[0].object is on


def test_close_from_inside_the_callback(acme: cidb.Tenant) -> None:
    got: list[Delivery] = []
    holder: list[cidb.Subscription] = []
    done = threading.Event()

    def on(d: Delivery) -> None:
        got.append(d)
        holder[0].close()  # must not deadlock waiting for itself
        done.set()

    holder.append(acme.subscribe(on))
    acme.upsert_customer(id="c1")
    acme.upsert_customer(id="c2")
    assert done.wait(10)
    time.sleep(0.2)
    assert len(got) == 1 and holder[0].closed


def test_dropping_a_callback_subscription_stops_it(acme: cidb.Tenant) -> None:
    got: list[Delivery] = []
    sub = acme.subscribe(got.append)
    acme.upsert_customer(id="c1")
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    del sub  # joins the delivery thread without holding the GIL (no deadlock)
    acme.upsert_customer(id="c2")
    time.sleep(0.2)
    assert len(got) == 1


def test_filters(acme: cidb.Tenant) -> None:
    acme.upsert_customer(id="c1")
    by_op = acme.subscribe(tables=["customers"], ops=["update", "delete"])
    by_type = acme.subscribe(tables=["customer_scores", "latest_scores"], score_type="churn")
    crossing = acme.subscribe(crossing={"score_type": "churn", "threshold": 0.7})
    falling = acme.subscribe(crossing={"score_type": "churn", "threshold": 0.7, "above": False})
    acme.upsert_customer(id="c2")  # insert: not for by_op
    acme.upsert_customer(id="c1", name="x")  # update
    for score, ty in [(0.5, "churn"), (0.8, "churn"), (0.9, "churn"), (0.6, "churn"), (0.95, "upsell")]:
        acme.add_score(customer_id="c1", score_type=ty, score=score, confidence=1)
    assert [(event(d)["op"], event(d)["key"]) for d in drain(by_op)] == [("update", "c1")]
    types = {(event(d)["table"], event(d)["new"]["score_type"]) for d in drain(by_type)}  # type: ignore[index]
    assert types == {("customer_scores", "churn"), ("latest_scores", "churn")}
    ups = [event(d) for d in drain(crossing)]
    assert [(e["table"], e["new"]["score"]) for e in ups] == [("latest_scores", 0.8)]  # type: ignore[index]
    downs = [event(d) for d in drain(falling)]
    assert [e["new"]["score"] for e in downs] == [0.6]  # type: ignore[index]
    for s in (by_op, by_type, crossing, falling):
        s.close()


def test_context_events_carry_the_context(acme: cidb.Tenant) -> None:
    with acme.subscribe(tables="conversation_context") as sub:
        acme.update_context("k", [{"role": "user", "content": "hi", "timestamp": 5}], ttl=60)
        acme.delete_context("k")
        got = [event(d) for d in drain(sub)]
    assert [(e["op"], e["key"]) for e in got] == [("update", "k"), ("delete", "k")]
    new = got[0]["new"]
    assert new is not None and new["entries"][0]["content"] == "hi"
    assert new["entries"][0]["timestamp"] == datetime(1970, 1, 1, 0, 0, 0, 5000, tzinfo=timezone.utc)
    assert isinstance(new["expires_at"], datetime)


def test_tenant_subscription_sees_its_tenant_only_engine_sees_all(db: cidb.Engine) -> None:
    a, b = db.tenant("a"), db.tenant("b")
    sub_a = a.subscribe()
    sub_all = db.subscribe(tables="customers")
    a.upsert_customer(id="x")
    b.upsert_customer(id="y")
    assert [event(d)["tenant"] for d in drain(sub_a)] == ["a"]
    assert [event(d)["tenant"] for d in drain(sub_all)] == ["a", "b"]


def test_slow_subscriber_gets_a_missed_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIDB_FEED_QUEUE_CAPACITY", "3")
    with cidb.open(tmp_path / "db") as db:
        t = db.tenant("t")
        sub = t.subscribe(tables="customers")
        t.upsert_customers([{"id": f"c{i}"} for i in range(10)])
        got = drain(sub)
        assert [event(d)["key"] for d in got[:3]] == ["c0", "c1", "c2"]
        assert "missed" in got[3]
        missed = got[3]["missed"]
        assert missed["count"] == 7
        assert got[4:] == []
        # resume from the log
        rest = t.events_since(missed["from_seq"], limit=100)
        assert [e["key"] for e in rest] == [f"c{i}" for i in range(3, 10)]


def test_events_since(db: cidb.Engine) -> None:
    a, b = db.tenant("a"), db.tenant("b")
    a.upsert_customer(id="c1")
    b.upsert_customer(id="c2")
    a.add_score(customer_id="c1", score_type="s", score=0.5, confidence=0.5)
    all_events = db.events_since()
    assert [(e["tenant"], e["table"]) for e in all_events] == [
        ("a", "customers"), ("b", "customers"), ("a", "customer_scores"), ("a", "latest_scores"),
    ]
    seqs = [e["seq"] for e in all_events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [e["table"] for e in a.events_since()] == ["customers", "customer_scores", "latest_scores"]
    assert a.events_since(seqs[2]) == all_events[2:]
    assert db.events_since(seqs[0], limit=2) == all_events[:2]
    assert db.events_since(seqs[-1] + 1) == []
    assert all_events[2]["new"]["created_at"].tzinfo is not None  # type: ignore[index]


def test_events_since_survive_reopen(db_path: Path) -> None:
    with cidb.open(db_path) as db:
        db.tenant("t").upsert_customer(id="c1")
    with cidb.open(db_path) as db:
        assert [e["key"] for e in db.tenant("t").events_since()] == ["c1"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tables": ["customers", "orders"]}, cidb.UnknownTableError, "unknown table 'orders'"),
        ({"ops": ["upsert"]}, cidb.InvalidInputError, "unknown operation 'upsert'"),
        ({"tables": 5}, TypeError, "tables must be a str or an iterable of str"),
        ({"ops": [1]}, TypeError, "ops must be str"),
        ({"score_type": ""}, cidb.InvalidIdError, "score_type"),
        ({"crossing": 0.7}, TypeError, "crossing must be a dict"),
        ({"crossing": {"threshold": 0.7}}, cidb.InvalidInputError, "missing 'score_type'"),
        ({"crossing": {"score_type": "s"}}, cidb.InvalidInputError, "missing 'threshold'"),
        ({"crossing": {"score_type": "s", "threshold": float("nan")}}, cidb.InvalidInputError, "finite"),
        ({"crossing": {"score_type": "s", "threshold": "high"}}, TypeError, "threshold must be a float"),
        ({"crossing": {"score_type": "s", "threshold": 1, "below": 1}}, cidb.InvalidInputError, "no field 'below'"),
    ],
)
def test_bad_filters(db: cidb.Engine, acme: cidb.Tenant, kwargs: dict[str, Any], error: type[Exception],
                     match: str) -> None:
    with pytest.raises(error, match=match):
        acme.subscribe(**kwargs)
    with pytest.raises(error, match=match):
        db.subscribe(**kwargs)


def test_bad_arguments(db: cidb.Engine, acme: cidb.Tenant) -> None:
    with pytest.raises(TypeError, match="callback must be callable"):
        acme.subscribe("not callable")  # type: ignore[arg-type]
    sub = acme.subscribe()
    for timeout in (-1, float("nan"), timedelta(seconds=-1)):
        with pytest.raises(cidb.InvalidInputError, match="timeout"):
            sub.recv(timeout=timeout)
    with pytest.raises(TypeError, match="timeout must be"):
        sub.recv(timeout="1")  # type: ignore[arg-type]
    for call in (lambda: acme.events_since(-1), lambda: db.events_since(-1)):
        with pytest.raises(cidb.InvalidInputError, match="seq is -1"):
            call()
    for limit in (0, -5):
        with pytest.raises(cidb.InvalidInputError, match="limit"):
            acme.events_since(0, limit=limit)


def test_engine_close_ends_subscriptions(db: cidb.Engine, acme: cidb.Tenant) -> None:
    sub = acme.subscribe()
    acme.upsert_customer(id="c1")
    ended = threading.Event()
    seen: list[Delivery] = []

    def consume() -> None:
        for d in sub:
            seen.append(d)
        ended.set()

    th = threading.Thread(target=consume)
    th.start()
    time.sleep(0.2)
    db.close()
    assert ended.wait(10)
    th.join()
    assert [event(d)["key"] for d in seen] == ["c1"]
    assert sub.recv() is None  # does not block forever after close
    for call in (lambda: acme.subscribe(), lambda: db.subscribe(), lambda: acme.events_since(),
                 lambda: db.events_since(), lambda: acme.subscribe(print)):
        with pytest.raises(cidb.ClosedError):
            call()
    sub.close()


EXIT_SCRIPT = """
import sys, threading, time, cidb
db = cidb.open(sys.argv[1])
t = db.tenant("t")
started = threading.Event()

def slow(d):
    started.set()
    time.sleep(0.3)  # still running when the main thread exits
    print("callback finished", flush=True)

sub = t.subscribe(slow)
it = t.subscribe()
threading.Thread(target=lambda: [None for _ in it], daemon=True).start()  # waiting at exit
db.on_alert(lambda a: time.sleep(0.2))
t.upsert_customer(id="c1")
cidb._cidb._record_statement(db, "SELECT x FROM y", 500.0)
started.wait(10)
print("main exits", flush=True)
"""


def test_interpreter_exit_with_callbacks_in_progress_is_clean(tmp_path: Path) -> None:
    # CPython ends threads that take the GIL during finalization with pthread_exit, which
    # aborts the process when it unwinds through Rust frames: an atexit hook lets the
    # callbacks in progress finish first and keeps engine threads out of Python after it.
    import subprocess

    for i in range(3):
        r = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(tmp_path / f"db{i}")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert r.stdout.split("\n")[:2] == ["main exits", "callback finished"], r.stdout
