"""One directory, one engine: a second engine in this process or a second process gets
AlreadyOpenError; a closed engine raises ClosedError everywhere; threads share an engine
and run engine work in parallel (the GIL is released, so their writes commit in groups)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

import cidb

CHILD = """
import sys, cidb
try:
    db = cidb.open(sys.argv[1])
except cidb.AlreadyOpenError as e:
    print("ALREADY_OPEN", isinstance(e, OSError), e)
    sys.exit(3)
t = db.tenant("acme")
print("OPENED", t.count_customers(), (t.get_customer("c1") or {}).get("name"))
t.upsert_customer(id="from-child")
db.close()
"""


def run_child(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120, cwd=path.parent
    )


def test_second_process_gets_already_open_then_opens_after_close(db_path: Path) -> None:
    db = cidb.open(db_path)
    db.tenant("acme").upsert_customer(id="c1", name="Ada")
    child = run_child(db_path)
    assert child.returncode == 3, child.stderr
    assert child.stdout.startswith("ALREADY_OPEN True"), child.stdout
    assert "already open" in child.stdout
    db.close()

    child = run_child(db_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["OPENED", "1", "Ada"]
    with cidb.open(db_path) as db:
        assert db.tenant("acme").get_customer("from-child") is not None


def test_second_engine_in_same_process_gets_already_open(db: cidb.Engine, db_path: Path) -> None:
    with pytest.raises(cidb.AlreadyOpenError):
        cidb.open(db_path)
    with pytest.raises(OSError):
        cidb.open(db_path)
    db.close()
    cidb.open(db_path).close()


def test_closed_engine_raises_closed_everywhere(db: cidb.Engine) -> None:
    t = db.tenant("acme")
    t.upsert_customer(id="c1")
    db.close()
    calls: list[Callable[[], Any]] = [
        lambda: db.tenant("acme"),
        db.stats,
        lambda: t.upsert_customer(id="c2"),
        lambda: t.upsert_customers([{"id": "c2"}]),
        lambda: t.get_customer("c1"),
        lambda: t.delete_customer("c1"),
        t.count_customers,
        lambda: t.add_score(customer_id="c1", score_type="s", score=0.5, confidence=0.5),
        lambda: t.add_scores([]),
        lambda: t.latest_score("c1", "s"),
        lambda: t.score_history("c1", "s"),
        lambda: t.append_message(customer_id="c1", conversation_id="k", role="user", content="x"),
        lambda: t.append_messages([]),
        lambda: t.messages_for_customer("c1"),
        lambda: t.messages_for_conversation("k"),
    ]
    for call in calls:
        with pytest.raises(cidb.ClosedError, match="closed"):
            call()
    db.close()  # still idempotent


def test_threads_share_an_engine_and_writes_commit_in_groups(db: cidb.Engine) -> None:
    threads_n, per_thread = 8, 60
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def work(k: int) -> None:
        try:
            t = db.tenant("acme")  # each thread its own handle on the same tenant
            barrier.wait()
            for i in range(per_thread):
                cid = f"t{k}-c{i}"
                t.upsert_customer(id=cid, department=f"d{k}", attributes={"i": i})
                t.add_score(customer_id=cid, score_type="churn", score=i / per_thread, confidence=1)
                t.append_message(customer_id=cid, conversation_id=f"conv{k}", role="user", content=str(i))
                got = t.get_customer(cid)
                assert got is not None and got["attributes"] == {"i": i}
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []

    t = db.tenant("acme")
    assert t.count_customers() == threads_n * per_thread
    for k in range(threads_n):
        conv = t.messages_for_conversation(f"conv{k}")
        assert [m["content"] for m in conv] == [str(i) for i in range(per_thread)]
    stats = db.stats()
    assert stats["writes"] == 3 * threads_n * per_thread
    # While one thread waits for its commit with the GIL released, the others queue
    # writes that go into the next commit together. With the GIL held during engine work
    # every commit would hold exactly one write.
    assert stats["max_commit_group"] > 1, stats
    assert stats["commits"] < stats["writes"], stats


def test_a_handle_can_be_used_from_many_threads(acme: cidb.Tenant) -> None:
    acme.upsert_customers([{"id": f"c{i}", "status": str(i)} for i in range(200)])
    seen: list[int] = []
    lock = threading.Lock()

    def read(start: int) -> None:
        n = 0
        for i in range(start, 200, 4):
            c = acme.get_customer(f"c{i}")
            assert c is not None and c["status"] == str(i)
            n += 1
        with lock:
            seen.append(n)

    threads = [threading.Thread(target=read, args=(s,)) for s in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(seen) == [50, 50, 50, 50]
