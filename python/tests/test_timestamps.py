"""Timestamps: int milliseconds and datetimes (naive = UTC, aware converted) go in; exact
timezone-aware UTC datetimes come out. Checked against the standard library's calendar
arithmetic over random instants across the whole valid range."""

from __future__ import annotations

import calendar
import random
from datetime import datetime, timedelta, timezone

import pytest

import cidb

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TS = 253_402_300_799_999

EDGES = [
    0, 1, 999, 1000, 86_399_999, 86_400_000,
    68_169_599_999, 68_169_600_000,  # 1972-02-29 / 03-01 (leap day)
    951_782_400_000, 951_868_799_999,  # 2000-02-29 (400-year leap)
    4_107_542_399_999, 4_107_542_400_000,  # 2100-02-28 / 03-01 (no leap day)
    946_684_799_999, 946_684_800_000,  # the 2000 new year
    1_700_000_000_000, MAX_TS,
]


def oracle_ms(dt: datetime) -> int:
    """Milliseconds since the epoch by calendar.timegm (naive = UTC)."""
    tt = dt.utctimetuple() if dt.utcoffset() is not None else dt.timetuple()
    return calendar.timegm(tt) * 1000 + dt.microsecond // 1000


def test_int_milliseconds_come_back_as_exact_utc_datetimes(acme: cidb.Tenant) -> None:
    rng = random.Random(20240601)
    values = EDGES + [rng.randint(0, MAX_TS) for _ in range(3000)]
    stored = acme.append_messages(
        [{"customer_id": "c", "conversation_id": "k", "role": "user", "content": str(v), "timestamp": v} for v in values]
    )
    back = acme.messages_for_conversation("k")
    assert back == stored
    for v, m in zip(values, back):
        ts = m["timestamp"]
        assert ts.tzinfo is UTC or ts.utcoffset() == timedelta(0)
        assert ts == EPOCH + timedelta(milliseconds=v), v
        assert oracle_ms(ts) == v


def test_datetimes_in_any_zone_are_stored_as_their_instant(acme: cidb.Tenant) -> None:
    rng = random.Random(7)
    inputs: list[datetime] = []
    for _ in range(1000):
        # stay a day inside the range so every offset keeps the instant valid
        base = EPOCH + timedelta(microseconds=rng.randint(86_400_000_000, (MAX_TS - 86_400_000) * 1000))
        kind = rng.randrange(3)
        if kind == 0:
            inputs.append(base.replace(tzinfo=None))  # naive = UTC
        elif kind == 1:
            inputs.append(base)
        else:
            tz = timezone(timedelta(minutes=rng.randint(-14 * 60, 14 * 60)))
            inputs.append(base.astimezone(tz))
    acme.add_scores(
        [{"customer_id": "c", "score_type": "s", "score": 0.5, "confidence": 0.5, "created_at": dt} for dt in inputs]
    )
    got = sorted(oracle_ms(s["created_at"]) for s in acme.score_history("c", "s"))
    assert got == sorted(oracle_ms(dt) for dt in inputs)


def test_microseconds_are_truncated_to_milliseconds(acme: cidb.Tenant) -> None:
    acme.upsert_customer(id="c", created_at=datetime(2024, 5, 6, 7, 8, 9, 123999), updated_at=datetime(2024, 5, 6, 7, 8, 9, 999))
    c = acme.get_customer("c")
    assert c is not None
    assert c["created_at"] == datetime(2024, 5, 6, 7, 8, 9, 123000, UTC)
    assert c["updated_at"] == datetime(2024, 5, 6, 7, 8, 9, 0, UTC)


def test_naive_is_utc_and_aware_is_converted(acme: cidb.Tenant) -> None:
    plus2 = timezone(timedelta(hours=2))
    acme.upsert_customer(id="naive", created_at=datetime(2024, 1, 1, 12, 0))
    acme.upsert_customer(id="aware", created_at=datetime(2024, 1, 1, 14, 0, tzinfo=plus2))
    a, b = acme.get_customer("naive"), acme.get_customer("aware")
    assert a is not None and b is not None
    assert a["created_at"] == b["created_at"] == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert b["created_at"].tzinfo == UTC


def test_zoneinfo_with_daylight_saving(acme: cidb.Tenant) -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        ny = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    summer = datetime(2024, 7, 1, 8, 0, tzinfo=ny)  # EDT, UTC-4
    winter = datetime(2024, 1, 1, 8, 0, tzinfo=ny)  # EST, UTC-5
    acme.add_score(customer_id="c", score_type="s", score=0.1, confidence=1, created_at=summer)
    acme.add_score(customer_id="c", score_type="s", score=0.2, confidence=1, created_at=winter)
    got = {s["score"]: s["created_at"] for s in acme.score_history("c", "s")}
    assert got[0.1] == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert got[0.2] == datetime(2024, 1, 1, 13, 0, tzinfo=UTC)


def test_datetime_subclasses_work(acme: cidb.Tenant) -> None:
    class Stamp(datetime):
        """Like pandas.Timestamp: a datetime subclass."""

    acme.upsert_customer(id="c", created_at=Stamp(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC))
    c = acme.get_customer("c")
    assert c is not None and c["created_at"] == datetime(2024, 2, 29, 23, 59, 59, 999000, UTC)


def test_int_like_objects_are_accepted(acme: cidb.Tenant) -> None:
    class Index:
        """Like numpy.int64: not an int, but has __index__."""

        def __index__(self) -> int:
            return 1_700_000_000_000

    acme.upsert_customer(id="c", created_at=Index())  # type: ignore[arg-type]
    c = acme.get_customer("c")
    assert c is not None and c["created_at"] == EPOCH + timedelta(milliseconds=1_700_000_000_000)


def test_range_bounds_accept_both_forms(acme: cidb.Tenant) -> None:
    acme.append_messages(
        [{"customer_id": "c", "conversation_id": "k", "role": "user", "content": str(d), "timestamp": datetime(2024, 1, d)}
         for d in range(1, 11)]
    )
    by_dt = acme.messages_for_customer("c", start=datetime(2024, 1, 3), end=datetime(2024, 1, 6, tzinfo=UTC))
    by_ms = acme.messages_for_customer("c", start=oracle_ms(datetime(2024, 1, 3)), end=oracle_ms(datetime(2024, 1, 6)))
    assert [m["content"] for m in by_dt] == ["3", "4", "5"]
    assert by_ms == by_dt


PORTABLE_CHECK = """
import random, sys, tempfile
from datetime import datetime, timedelta, timezone
import cidb
from cidb import _cidb
values = [int(v) for v in sys.argv[1].split(",")]
with tempfile.TemporaryDirectory() as d, cidb.open(d) as db:
    t = db.tenant("acme")
    got = t.append_messages([
        {"customer_id": "c", "conversation_id": "k", "role": "user", "content": "", "timestamp": v}
        for v in values
    ])
    print(_cidb._datetime_path())
    print(",".join(m["timestamp"].isoformat() for m in got))
"""


@pytest.mark.parametrize("portable", ["1", "0"])
def test_both_datetime_constructors_give_the_same_instants(portable: str) -> None:
    """The C API capsule path and the portable ``fromisoformat`` path (forced with
    ``CIDB_PORTABLE_DATETIME=1``, otherwise only taken when the capsule's layout check
    fails) build the same exact UTC datetimes, in a fresh process each."""
    import os
    import subprocess
    import sys

    rng = random.Random(7)
    values = EDGES + [rng.randint(0, MAX_TS) for _ in range(500)]
    env = dict(os.environ, CIDB_PORTABLE_DATETIME=portable)
    out = subprocess.run(
        [sys.executable, "-c", PORTABLE_CHECK, ",".join(map(str, values))],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert out[0] == ("portable" if portable == "1" else "capi")
    expected = [(EPOCH + timedelta(milliseconds=v)).isoformat() for v in values]
    assert out[1].split(",") == expected
