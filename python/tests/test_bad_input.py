"""The bad-input matrix (docs/bad-input.md) walked through the Python binding.

The cases live in tests/bad-input/cases.json, shared with the C and Node tests: every case
names an operation, its arguments and the error kind the core must report; the class it
raises is looked up in the engine's error table (``_cidb._error_table()``), never a list
of our own. ``"kind": "ok"`` cases must succeed on an open engine; every one of them must
raise ClosedError once the engine is closed. Python-only rows follow: wrong types,
strings that cannot be UTF-8 (lone surrogates), and close racing calls on other threads."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

import cidb
from cidb import _cidb

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "tests" / "bad-input" / "cases.json").read_text("utf-8")
)
CLASS_OF_KIND: dict[str, type[cidb.Error]] = {
    str(r["kind"]): getattr(cidb, str(r["python_class"])) for r in _cidb._error_table()
}
BAD = [c for c in CASES if c["kind"] != "ok"]
VALID = [c for c in CASES if c["kind"] == "ok"]
REPEAT = re.compile(r"\$\{(.+?)\*(\d+)\}")


def expand(v: Any) -> Any:
    """Expands ``${s*N}`` (s repeated N times) in every string of a case."""
    if isinstance(v, str):
        return REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), v)
    if isinstance(v, list):
        return [expand(x) for x in v]
    if isinstance(v, dict):
        return {k: expand(x) for k, x in v.items()}
    return v


def run(db: cidb.Engine, t: cidb.Tenant, case: dict[str, Any]) -> Any:
    op, a = case["op"], expand(case["arg"])
    if op == "tenant":
        return db.tenant(a["name"])
    if op == "upsert_customer":
        return t.upsert_customer(a["record"])
    if op == "get_customer":
        return t.get_customer(a["id"])
    if op == "add_score":
        return t.add_score(a["record"])
    if op == "append_message":
        return t.append_message(a["record"])
    if op == "update_context":
        return t.update_context(a["conversation_id"], a["entries"], a["ttl_ms"] / 1000, a["max_history"])
    if op == "cache_set":
        ttl = None if a["ttl_ms"] is None else a["ttl_ms"] / 1000
        return t.cache.set(a["key"], b"v" * a["value_len"], ttl=ttl)
    if op == "query":
        return t.query(a["sql"], a["params"])
    if op == "execute":
        return db.execute(a["sql"])
    raise AssertionError(f"unknown op {op}")


def test_every_kind_in_the_matrix_exists_in_the_error_table() -> None:
    assert {c["kind"] for c in BAD} <= set(CLASS_OF_KIND)
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", BAD, ids=[c["id"] for c in BAD])
def test_bad_input_raises_its_kind(db: cidb.Engine, acme: cidb.Tenant, case: dict[str, Any]) -> None:
    want = CLASS_OF_KIND[case["kind"]]
    before = db.stats()
    with pytest.raises(cidb.Error) as e:
        run(db, acme, case)
    assert type(e.value) is want, f"{case['id']}: {type(e.value).__name__}: {e.value}"
    assert e.value.kind == case["kind"]
    assert case["text"].lower() in str(e.value).lower(), str(e.value)
    after = db.stats()
    assert (after["customers"], after["scores"], after["messages"]) == (before["customers"], before["scores"], before["messages"])


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_valid_call_succeeds_then_raises_closed_after_close(db: cidb.Engine, acme: cidb.Tenant, case: dict[str, Any]) -> None:
    run(db, acme, case)  # the boundary values themselves are accepted
    db.close()
    with pytest.raises(cidb.ClosedError, match="closed"):
        run(db, acme, case)
    db.close()  # idempotent


WRONG_TYPES: list[tuple[str, dict[str, Any]]] = [  # each raises TypeError
    ("tenant name int", {"op": "tenant", "arg": {"name": 5}}),
    ("record int", {"op": "upsert_customer", "arg": {"record": 5}}),
    ("customer id int", {"op": "upsert_customer", "arg": {"record": {"id": 5}}}),
    ("created_at str", {"op": "upsert_customer", "arg": {"record": {"id": "c", "created_at": "2024"}}}),
    ("get id None", {"op": "get_customer", "arg": {"id": None}}),
    ("score str", {"op": "add_score", "arg": {"record": {"customer_id": "c", "score_type": "s", "score": "hi", "confidence": 0.5}}}),
    ("content bytes", {"op": "append_message", "arg": {"record": {"customer_id": "c", "conversation_id": "k", "role": "user", "content": b"x"}}}),
    ("context entries int", {"op": "update_context", "arg": {"conversation_id": "k", "entries": 3, "ttl_ms": 1000, "max_history": 1}}),
    ("cache key bytes", {"op": "cache_set", "arg": {"key": b"k", "value_len": 1, "ttl_ms": None}}),
    ("sql int", {"op": "query", "arg": {"sql": 1, "params": []}}),
    ("execute None", {"op": "execute", "arg": {"sql": None}}),
]


@pytest.mark.parametrize("name,case", WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_python_type_raises_type_error(db: cidb.Engine, acme: cidb.Tenant, name: str, case: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as e:
        run(db, acme, case)
    assert not isinstance(e.value, cidb.Error) or isinstance(e.value, cidb.TypeMismatchError)


def test_params_that_are_not_a_sequence(db: cidb.Engine, acme: cidb.Tenant) -> None:
    # The binding's documented choice: a params value it cannot bind is InvalidParameterError.
    for params in (1, "ab", {"a": 1}):
        with pytest.raises(cidb.InvalidParameterError, match="list or tuple"):
            run(db, acme, {"op": "query", "arg": {"sql": "SELECT 1", "params": params}})


SURROGATES: list[dict[str, Any]] = [
    {"op": "tenant", "arg": {"name": "\ud800"}},
    {"op": "get_customer", "arg": {"id": "\udfff"}},
    {"op": "upsert_customer", "arg": {"record": {"id": "a\ud800"}}},
    {"op": "cache_set", "arg": {"key": "\ud800", "value_len": 1, "ttl_ms": None}},
    {"op": "query", "arg": {"sql": "SELECT '\ud800'", "params": []}},
    {"op": "query", "arg": {"sql": "SELECT ?", "params": ["\ud800"]}},
]


@pytest.mark.parametrize("case", SURROGATES, ids=[f"{c['op']}-{i}" for i, c in enumerate(SURROGATES)])
def test_text_that_cannot_be_utf8_is_refused(db: cidb.Engine, acme: cidb.Tenant, case: dict[str, Any]) -> None:
    # A lone surrogate has no UTF-8 form: Python refuses to encode it (UnicodeEncodeError,
    # a ValueError), or the core names the field (a cidb.Error) — never a crash, nothing stored.
    with pytest.raises((UnicodeEncodeError, cidb.Error)):
        run(db, acme, case)
    assert db.stats()["customers"] == 0


def test_close_racing_calls_on_other_threads(db: cidb.Engine) -> None:
    # Every call either completes or raises ClosedError; nothing else, no crash, no hang.
    t = db.tenant("acme")
    started = threading.Barrier(5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        started.wait()
        for i in range(100_000):
            try:
                case = VALID[(k + i) % len(VALID)]
                if case["op"] in ("cache_set", "append_message", "upsert_customer"):
                    continue  # the 16 MiB / 1 MiB boundary values would make this slow
                run(db, t, case)
            except cidb.ClosedError:
                with lock:
                    outcomes.append("closed")
                return
            except BaseException as e:  # noqa: BLE001 - any other outcome is the failure
                with lock:
                    outcomes.append(f"{type(e).__name__}: {e}")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    started.wait()
    threading.Event().wait(0.05)
    db.close()
    for th in threads:
        th.join(timeout=60)
        assert not th.is_alive(), "a call hung across close"
    assert outcomes == ["closed"] * 4, outcomes
