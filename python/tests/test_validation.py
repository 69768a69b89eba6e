"""Every validation rule raises its own cidb error through the binding, a rejected write
(alone or inside a batch) changes nothing, and values of the wrong Python type raise
TypeError (or the rule's error), never crash the interpreter."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any, Callable

import pytest

import cidb
from conftest import T0

MAX_TS = 253_402_300_799_999


def snapshot(db: cidb.Engine, t: cidb.Tenant) -> tuple[Any, ...]:
    s = db.stats()
    return (
        s["customers"], s["scores"], s["latest_scores"], s["messages"],
        t.count_customers(), t.latest_score("c1", "churn"), t.messages_for_customer("c1"),
    )


@pytest.fixture
def seeded(db: cidb.Engine, acme: cidb.Tenant) -> cidb.Tenant:
    acme.upsert_customer(id="c1", created_at=T0)
    acme.add_score(customer_id="c1", score_type="churn", score=0.5, confidence=0.5, created_at=T0)
    acme.append_message(customer_id="c1", conversation_id="k", role="user", content="hi", timestamp=T0)
    return acme


def customer(**kw: Any) -> dict[str, Any]:
    return {"id": "c2", "created_at": T0, **kw}


def score(**kw: Any) -> dict[str, Any]:
    return {"customer_id": "c1", "score_type": "churn", "score": 0.9, "confidence": 0.9, "created_at": T0 + 1, **kw}


def message(**kw: Any) -> dict[str, Any]:
    return {"customer_id": "c1", "conversation_id": "k", "role": "user", "content": "x", "timestamp": T0 + 1, **kw}


BAD_WRITES: list[tuple[str, type[cidb.Error], str, dict[str, Any]]] = [
    # (operation, error, what the message must mention, record)
    ("customer", cidb.InvalidIdError, "empty", customer(id="")),
    ("customer", cidb.InvalidIdError, "257 bytes", customer(id="x" * 257)),
    ("customer", cidb.InvalidIdError, "NUL", customer(id="a\0b")),
    ("customer", cidb.InvalidAttributesError, "list", customer(attributes=[1, 2])),
    ("customer", cidb.InvalidAttributesError, "str", customer(attributes='{"a": 1}')),
    ("customer", cidb.InvalidAttributesError, "int", customer(attributes=3)),
    ("customer", cidb.InvalidAttributesError, "set", customer(attributes={"s": {1, 2}})),
    ("customer", cidb.InvalidAttributesError, "NaN is not a JSON number", customer(attributes={"x": [1, float("nan")]})),
    ("customer", cidb.InvalidAttributesError, "64 bits", customer(attributes={"big": 2**64})),
    ("customer", cidb.InvalidAttributesError, "keys must be str", customer(attributes={1: "a"})),
    ("customer", cidb.InvalidAttributesError, "datetime", customer(attributes={"when": datetime.now()})),
    ("customer", cidb.InvalidTimestampError, "created_at", customer(created_at=-1)),
    ("customer", cidb.InvalidTimestampError, "updated_at", customer(updated_at=MAX_TS + 1)),
    ("customer", cidb.InvalidTimestampError, "out of range", customer(created_at=2**63)),
    ("customer", cidb.InvalidTimestampError, "created_at", customer(created_at=datetime(1969, 12, 31, 23, 59))),
    ("customer", cidb.InvalidInputError, "department", customer(department="d" * 257)),
    ("customer", cidb.InvalidInputError, "no field 'nmae'", customer(nmae="typo")),
    ("customer", cidb.InvalidInputError, "missing required field 'id'", {"email": "a@x"}),
    ("score", cidb.InvalidScoreError, "NaN", score(score=math.nan)),
    ("score", cidb.InvalidScoreError, "inf", score(score=math.inf)),
    ("score", cidb.InvalidScoreError, "-inf", score(confidence=-math.inf)),
    ("score", cidb.InvalidScoreError, "[0, 1]", score(score=1.0000001)),
    ("score", cidb.InvalidScoreError, "[0, 1]", score(score=-0.1)),
    ("score", cidb.InvalidScoreError, "confidence", score(confidence=math.nan)),
    ("score", cidb.InvalidScoreError, "confidence", score(confidence=2)),
    ("score", cidb.InvalidIdError, "score_type", score(score_type="")),
    ("score", cidb.InvalidIdError, "customer_id", score(customer_id="y" * 300)),
    ("score", cidb.InvalidTimestampError, "created_at", score(created_at=-5)),
    ("score", cidb.InvalidInputError, "missing required field 'confidence'", score(confidence=None)),
    ("message", cidb.InvalidRoleError, "robot", message(role="robot")),
    ("message", cidb.InvalidRoleError, "User", message(role="User")),
    ("message", cidb.ContentTooLargeError, "1048577 bytes", message(content="x" * ((1 << 20) + 1))),
    ("message", cidb.ContentTooLargeError, "bytes", message(content="é" * ((1 << 19) + 1))),
    ("message", cidb.InvalidAttributesError, "metadata", message(metadata=[])),
    ("message", cidb.InvalidAttributesError, "metadata", message(metadata={"f": lambda: 1})),
    ("message", cidb.InvalidTimestampError, "timestamp", message(timestamp=MAX_TS + 1)),
    ("message", cidb.InvalidIdError, "conversation_id", message(conversation_id="")),
    ("message", cidb.InvalidInputError, "missing required field 'role'", message(role=None)),
]


@pytest.mark.parametrize("op,error,text,record", BAD_WRITES, ids=[f"{e[1].__name__}-{i}" for i, e in enumerate(BAD_WRITES)])
def test_rejected_write_changes_nothing(
    db: cidb.Engine, seeded: cidb.Tenant, op: str, error: type[cidb.Error], text: str, record: dict[str, Any]
) -> None:
    single: dict[str, Callable[..., Any]] = {
        "customer": seeded.upsert_customer, "score": seeded.add_score, "message": seeded.append_message,
    }
    batch: dict[str, Callable[..., Any]] = {
        "customer": seeded.upsert_customers, "score": seeded.add_scores, "message": seeded.append_messages,
    }
    good = {"customer": customer(id="good"), "score": score(score_type="good"), "message": message(conversation_id="good")}
    before = snapshot(db, seeded)

    with pytest.raises(error) as e1:
        single[op](record)
    assert text in str(e1.value), str(e1.value)
    with pytest.raises(error):
        single[op](**record)  # the same record as keyword arguments
    with pytest.raises(error):
        batch[op]([good[op], record, good[op]])  # one bad record: the whole batch is refused

    assert snapshot(db, seeded) == before
    assert seeded.get_customer("good") is None
    assert seeded.latest_score("c1", "good") is None
    assert seeded.messages_for_conversation("good") == []
    assert isinstance(e1.value, cidb.Error) and e1.value.kind == error.kind


def test_longest_id_is_accepted(acme: cidb.Tenant) -> None:
    acme.upsert_customer(id="x" * 256)
    assert acme.get_customer("x" * 256) is not None
    acme.upsert_customer(id="é" * 128)  # 256 bytes in UTF-8
    with pytest.raises(cidb.InvalidIdError):
        acme.upsert_customer(id="é" * 128 + "x")


def test_bounds_of_valid_values_are_accepted(acme: cidb.Tenant) -> None:
    for v in (0.0, 1.0, 0, 1):
        acme.add_score(customer_id="c1", score_type="s", score=v, confidence=v, created_at=0)
    acme.upsert_customer(id="late", created_at=MAX_TS, updated_at=datetime(9999, 12, 31, 23, 59, 59, 999999))
    c = acme.get_customer("late")
    assert c is not None and c["created_at"] == c["updated_at"] == datetime(9999, 12, 31, 23, 59, 59, 999000, timezone.utc)


def test_read_side_id_rules(acme: cidb.Tenant) -> None:
    for call in (
        lambda: acme.get_customer(""),
        lambda: acme.delete_customer("x" * 257),
        lambda: acme.latest_score("", "s"),
        lambda: acme.latest_score("c", ""),
        lambda: acme.score_history("c", ""),
        lambda: acme.messages_for_customer(""),
        lambda: acme.messages_for_conversation(""),
    ):
        with pytest.raises(cidb.InvalidIdError):
            call()


def test_tenant_name_rules(db: cidb.Engine) -> None:
    with pytest.raises(cidb.InvalidIdError, match="tenant is empty"):
        db.tenant("")
    with pytest.raises(cidb.InvalidIdError):
        db.tenant("t" * 257)


def test_query_arguments(acme: cidb.Tenant) -> None:
    with pytest.raises(cidb.InvalidRoleError, match="robot"):
        acme.messages_for_customer("c1", role="robot")
    with pytest.raises(cidb.InvalidInputError, match="limit"):
        acme.messages_for_customer("c1", limit=-1)
    with pytest.raises(cidb.InvalidTimestampError):
        acme.score_history("c1", "s", start=2**64)
    # bounds before 1970 are fine for reads: they just match nothing earlier
    assert acme.score_history("c1", "s", start=-(2**62), end=datetime(1960, 1, 1)) == []


def test_unknown_profile(db_path: Any) -> None:
    with pytest.raises(cidb.ConfigError, match="unknown profile"):
        cidb.open(db_path, profile="turbo")


WRONG_TYPES: list[tuple[str, Callable[[cidb.Engine, cidb.Tenant], Any]]] = [
    ("open path int", lambda db, t: cidb.open(123)),  # type: ignore[arg-type]
    ("open profile int", lambda db, t: cidb.open("x", profile=1)),  # type: ignore[arg-type]
    ("tenant None", lambda db, t: db.tenant(None)),  # type: ignore[arg-type]
    ("upsert int", lambda db, t: t.upsert_customer(5)),  # type: ignore[arg-type]
    ("upsert list", lambda db, t: t.upsert_customer([("id", "c")])),  # type: ignore[arg-type]
    ("upsert id int", lambda db, t: t.upsert_customer(id=5)),
    ("upsert id bytes", lambda db, t: t.upsert_customer(id=b"c1")),
    ("upsert email int", lambda db, t: t.upsert_customer(id="c", email=1)),
    ("upsert created float", lambda db, t: t.upsert_customer(id="c", created_at=1.7e12)),
    ("upsert created str", lambda db, t: t.upsert_customer(id="c", created_at="2024-01-01")),
    ("upsert created date", lambda db, t: t.upsert_customer(id="c", created_at=date(2024, 1, 1))),
    ("upsert created bool", lambda db, t: t.upsert_customer(id="c", created_at=True)),
    ("upsert non-str key", lambda db, t: t.upsert_customer({1: "c"})),  # type: ignore[dict-item]
    ("upserts None", lambda db, t: t.upsert_customers(None)),  # type: ignore[arg-type]
    ("upserts int", lambda db, t: t.upsert_customers(3)),  # type: ignore[arg-type]
    ("upserts dict", lambda db, t: t.upsert_customers({"id": "c"})),  # type: ignore[arg-type,dict-item]
    ("upserts str", lambda db, t: t.upsert_customers("abc")),  # type: ignore[arg-type]
    ("upserts list of int", lambda db, t: t.upsert_customers([1])),  # type: ignore[list-item]
    ("get int", lambda db, t: t.get_customer(1)),  # type: ignore[arg-type]
    ("get None", lambda db, t: t.get_customer(None)),  # type: ignore[arg-type]
    ("delete list", lambda db, t: t.delete_customer([])),  # type: ignore[arg-type]
    ("score str", lambda db, t: t.add_score(score(score="high"))),
    ("score bool", lambda db, t: t.add_score(score(score=True))),
    ("score list", lambda db, t: t.add_score(score(confidence=[0.5]))),
    ("model int", lambda db, t: t.add_score(score(model=3))),
    ("scores gen of str", lambda db, t: t.add_scores(x for x in ["a"])),  # type: ignore[misc]
    ("history start float", lambda db, t: t.score_history("c", "s", start=1.5)),  # type: ignore[arg-type]
    ("history end str", lambda db, t: t.score_history("c", "s", end="now")),  # type: ignore[arg-type]
    ("latest int", lambda db, t: t.latest_score("c", 1)),  # type: ignore[arg-type]
    ("role int", lambda db, t: t.append_message(message(role=1))),
    ("content bytes", lambda db, t: t.append_message(message(content=b"x"))),
    ("content int", lambda db, t: t.append_message(message(content=3))),
    ("messages role int", lambda db, t: t.messages_for_customer("c", role=1)),  # type: ignore[arg-type]
    ("messages limit str", lambda db, t: t.messages_for_customer("c", limit="2")),  # type: ignore[arg-type]
    ("messages limit float", lambda db, t: t.messages_for_customer("c", limit=2.0)),  # type: ignore[arg-type]
    ("conversation int", lambda db, t: t.messages_for_conversation(7)),  # type: ignore[arg-type]
    ("too many args", lambda db, t: t.get_customer("a", "b")),  # type: ignore[call-arg]
    ("unknown kwarg", lambda db, t: t.messages_for_customer("c", rol="user")),  # type: ignore[call-arg]
]


@pytest.mark.parametrize("name,call", WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_python_type_is_type_error(db: cidb.Engine, acme: cidb.Tenant, name: str, call: Any) -> None:
    before = db.stats()
    with pytest.raises(TypeError) as e:
        call(db, acme)
    assert not isinstance(e.value, cidb.Error) or isinstance(e.value, cidb.TypeMismatchError)
    assert str(e.value)
    after = db.stats()
    assert (after["customers"], after["scores"], after["messages"]) == (before["customers"], before["scores"], before["messages"])


def test_type_error_messages_name_the_field(acme: cidb.Tenant) -> None:
    with pytest.raises(TypeError, match="customer id must be str, not int"):
        acme.upsert_customer(id=5)
    with pytest.raises(TypeError, match="created_at must be an int .milliseconds since the epoch. or a datetime, not float"):
        acme.upsert_customer(id="c", created_at=1.5)
    with pytest.raises(TypeError, match="for a single record use upsert_customer"):
        acme.upsert_customers({"id": "c"})  # type: ignore[arg-type,dict-item]


def test_deep_and_self_referencing_attributes_are_refused_not_crashing(acme: cidb.Tenant) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100_000):
        node["d"] = {}
        node = node["d"]
    with pytest.raises(cidb.InvalidAttributesError, match="nested more than 64 levels"):
        acme.upsert_customer(id="c", attributes=deep)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(cidb.InvalidAttributesError):
        acme.upsert_customer(id="c", attributes=loop)
    ok: dict[str, Any] = {}
    node = ok
    for _ in range(63):
        node["d"] = {}
        node = node["d"]
    acme.upsert_customer(id="c", attributes=ok)
    c = acme.get_customer("c")
    assert c is not None and c["attributes"] == ok
    # 64 levels in all (the top-level dict is level 1) is the limit; one more is refused,
    # also as a list inside a dict, and in message metadata.
    node["d"] = {}
    with pytest.raises(cidb.InvalidAttributesError, match="nested more than 64 levels"):
        acme.upsert_customer(id="c2", attributes=ok)
    node["d"] = [1]
    with pytest.raises(cidb.InvalidAttributesError, match="nested more than 64 levels"):
        acme.append_message(customer_id="c", conversation_id="k", role="user", content="x", metadata=ok)
    assert acme.get_customer("c2") is None and acme.messages_for_conversation("k") == []
    assert acme.count_customers() == 1


def test_error_message_points_into_nested_attributes(acme: cidb.Tenant) -> None:
    with pytest.raises(cidb.InvalidAttributesError, match=r"attributes\['a'\]\[1\]\['b'\]: .*set"):
        acme.upsert_customer(id="c", attributes={"a": [0, {"b": {1}}]})


def test_lone_surrogates_raise_unicode_error_not_crash(acme: cidb.Tenant) -> None:
    with pytest.raises(UnicodeEncodeError):
        acme.upsert_customer(id="\ud800")
    with pytest.raises(UnicodeEncodeError):
        acme.get_customer("\udfff")
    with pytest.raises(cidb.InvalidAttributesError):
        acme.upsert_customer(id="c", attributes={"k": "\ud800"})
    assert acme.count_customers() == 0
