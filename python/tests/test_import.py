"""Bulk import from Python: CSV / JSONL files, lists of dicts, generators, pandas
DataFrames and pyarrow Tables, with the core's report (rejects with line numbers), missing
values (None, NaN, pandas.NA, NaT), progress callbacks, and every error path."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np  # type: ignore[import-not-found, unused-ignore]
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pytest

import cidb
from cidb.types import ImportProgress

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MS0 = 1_714_564_800_000  # T0 in ms


def rejects(report: Any) -> list[tuple[int, str]]:
    return [(r["line"], r["kind"]) for r in report["rejects"]]


def test_import_csv(acme: cidb.Tenant, tmp_path: Path) -> None:
    f = tmp_path / "customers.csv"
    f.write_text(
        "id,email,department,created_at,attributes\n"
        'c1,ada@example.com,sales,2024-05-01T12:00:00Z,"{""plan"": ""pro""}"\n'
        ",x@example.com,sales,1714564800000,\n"  # line 3: empty id
        "c3,,support,yesterday,\n"  # line 4: bad timestamp
        "c4,,support,1714564800000,\n"
    )
    report = acme.import_csv("customers", f)
    assert (report["imported"], report["rejected"], report["batches"]) == (2, 2, 1)
    assert rejects(report) == [(3, "invalid_id"), (4, "invalid_timestamp")]
    assert report["rejects"][0]["reason"] == "customer id is empty"
    assert report["stopped_early"] is False and report["notes"] == [] and report["elapsed_ms"] >= 0
    c1 = acme.get_customer("c1")
    assert c1 is not None and c1["created_at"] == T0 and c1["attributes"] == {"plan": "pro"}
    assert c1["email"] == "ada@example.com"
    c4 = acme.get_customer("c4")
    assert c4 is not None and c4["email"] is None
    assert acme.count_customers() == 2


def test_import_csv_delimiters(acme: cidb.Tenant, tmp_path: Path) -> None:
    tsv = tmp_path / "s.tsv"
    tsv.write_text("customer_id\tscore_type\tscore\tconfidence\tcreated_at\nc1\tchurn\t0.5\t0.9\t1714564800000\n")
    assert acme.import_csv("customer_scores", tsv)["imported"] == 1
    semi = tmp_path / "s.csv"
    semi.write_text("customer_id;score_type;score;confidence;created_at\nc1;churn;0.7;0.9;1714564800001\n")
    assert acme.import_csv("customer_scores", semi, delimiter=";")["imported"] == 1
    latest = acme.latest_score("c1", "churn")
    assert latest is not None and latest["score"] == 0.7


def test_import_jsonl(acme: cidb.Tenant, tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    lines = [
        {"customer_id": "c1", "conversation_id": "k", "role": "user", "timestamp": MS0, "content": "hi"},
        {"customer_id": "c1", "conversation_id": "k", "role": "boss", "timestamp": MS0, "content": "x"},
        {"customer_id": "c1", "conversation_id": "k", "role": "agent", "timestamp": "2024-05-01 12:00:01",
         "content": "hello", "metadata": {"n": 1}},
    ]
    f.write_text(json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\nnot json\n" + json.dumps(lines[2]) + "\n")
    report = acme.import_jsonl("conversation_messages", f)
    assert (report["imported"], report["rejected"]) == (2, 2)
    assert rejects(report) == [(3, "invalid_role"), (4, "invalid_input")]
    msgs = acme.messages_for_conversation("k")
    assert [(m["content"], m["role"], m["metadata"]) for m in msgs] == [("hi", "user", {}), ("hello", "agent", {"n": 1})]
    assert msgs[1]["timestamp"] == T0 + timedelta(seconds=1)


def test_import_records_from_dicts(acme: cidb.Tenant) -> None:
    rows: list[Any] = [
        {"id": "c1", "department": "sales", "created_at": T0, "attributes": {"tags": ["a", "b"], "n": 1}},
        {"id": "c2", "email": None, "created_at": MS0, "updated_at": T0 + timedelta(days=1)},
        {"id": "", "department": "x"},  # 3: empty id
        {"id": "c4", "colour": "red"},  # 4: unknown column
        {"id": "c5", "created_at": datetime(2024, 5, 1)},  # naive = UTC
        {"id": "c6", "attributes": {"s": {1, 2}}},  # 6: not JSON
        "not a dict",  # 7
        {"id": 7},  # ints are written in decimal
        {"id": "c9", "created_at": float("nan"), "name": math.nan},  # NaN = missing
    ]
    report = acme.import_records("customers", rows)
    assert rejects(report) == [(3, "invalid_id"), (4, "unknown_column"), (6, "invalid_attributes"),
                               (7, "invalid_input")]
    assert report["imported"] == 5
    c1 = acme.get_customer("c1")
    assert c1 is not None and c1["attributes"] == {"tags": ["a", "b"], "n": 1} and c1["created_at"] == T0
    c2 = acme.get_customer("c2")
    assert c2 is not None and c2["updated_at"] == T0 + timedelta(days=1)
    c5 = acme.get_customer("c5")
    assert c5 is not None and c5["created_at"] == T0 - timedelta(hours=12)
    assert acme.get_customer("7") is not None
    c9 = acme.get_customer("c9")
    assert c9 is not None and c9["name"] is None
    report = acme.import_records("customers", [{"id": "c10", "colour": "red"}], ignore_unknown_columns=True)
    assert report["imported"] == 1 and report["notes"] == ['unknown column "colour" is ignored']


def test_import_records_from_a_generator_with_progress(acme: cidb.Tenant) -> None:
    def gen() -> Iterator[dict[str, Any]]:
        for i in range(2500):
            yield {"customer_id": f"c{i % 10}", "score_type": "churn", "score": (i % 100) / 100,
                   "confidence": 0.5, "created_at": MS0 + i}

    seen: list[ImportProgress] = []
    report = acme.import_records("customer_scores", gen(), batch_size=1000, progress=seen.append)
    assert (report["imported"], report["batches"]) == (2500, 3)
    assert [p["rows_read"] for p in seen][:2] == [1000, 2000] and seen[-1]["rows_read"] == 2500
    assert seen[-1]["total_rows"] is None  # a generator has no length
    assert len(acme.score_history("c3", "churn")) == 250
    seen.clear()
    acme.import_records("customer_scores", list(gen()), progress=seen.append)
    assert seen[-1]["total_rows"] == 2500


def test_progress_can_stop_the_import(acme: cidb.Tenant) -> None:
    rows = [{"id": f"c{i}"} for i in range(5000)]
    report = acme.import_records("customers", rows, batch_size=500, progress=lambda p: p["rows_read"] < 2000)
    assert report["stopped_early"] is True
    assert 2000 <= report["imported"] < 5000
    assert acme.count_customers() == report["imported"]


def test_exceptions_from_progress_or_the_rows_stop_the_import_and_propagate(acme: cidb.Tenant) -> None:
    def bad_progress(p: ImportProgress) -> bool:
        raise KeyError("from progress")

    with pytest.raises(KeyError, match="from progress"):
        acme.import_records("customers", [{"id": f"c{i}"} for i in range(3000)], progress=bad_progress)
    assert acme.count_customers() <= 3000

    def failing() -> Iterator[dict[str, Any]]:
        yield {"id": "g1"}
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        acme.import_records("customers", failing())


def test_import_from_a_dataframe(acme: cidb.Tenant) -> None:
    df = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", None],
        "score_type": ["churn"] * 5,
        "score": [0.1, np.nan, 0.3, 0.4, 0.5],  # NaN: missing -> rejected (required)
        "confidence": pd.array([1, 1, 1, pd.NA, 1], dtype="Int64"),  # pd.NA: missing
        "created_at": pd.to_datetime([T0, T0, pd.NaT, T0, T0], utc=True),  # NaT: missing
        "model": ["m1", None, "m3", "m4", np.nan],
    })
    report = acme.import_records("customer_scores", df)
    assert report["imported"] == 1
    assert rejects(report) == [(2, "invalid_input"), (3, "invalid_input"), (4, "invalid_input"),
                               (5, "invalid_input")]
    assert 'missing required field "score"' in report["rejects"][0]["reason"]
    assert 'missing required field "created_at"' in report["rejects"][1]["reason"]
    got = acme.latest_score("c1", "churn")
    assert got is not None and (got["score"], got["confidence"], got["created_at"], got["model"]) == (
        0.1, 1.0, T0, "m1")


def test_dataframe_datetimes_naive_aware_and_resolutions(acme: cidb.Tenant) -> None:
    naive = pd.Series(pd.to_datetime(["2024-05-01 12:00:00.123456"] * 2)).astype("datetime64[us]")
    aware = pd.Series(pd.to_datetime(["2024-05-01 14:00:00.5+02:00"] * 2, utc=True)).dt.tz_convert("Europe/Paris")
    df = pd.DataFrame({"id": ["a", "b"], "created_at": naive, "updated_at": aware,
                       "attributes": [{"k": [1, 2]}, None]})
    assert acme.import_records("customers", df)["imported"] == 2
    a = acme.get_customer("a")
    assert a is not None
    assert a["created_at"] == T0 + timedelta(milliseconds=123)  # sub-ms truncated
    assert a["updated_at"] == T0 + timedelta(milliseconds=500)
    assert a["attributes"] == {"k": [1, 2]}
    b = acme.get_customer("b")
    assert b is not None and b["attributes"] == {}


def test_dataframe_messages_and_chunks(acme: cidb.Tenant) -> None:
    n = 10_000  # more than one chunk of the adapter and more than one batch
    df = pd.DataFrame({
        "customer_id": [f"c{i % 7}" for i in range(n)],
        "conversation_id": [f"k{i % 3}" for i in range(n)],
        "role": ["user", "assistant"] * (n // 2),
        "timestamp": pd.date_range("2024-05-01", periods=n, freq="s"),
        "content": [f"message {i}" for i in range(n)],
    })
    report = acme.import_records("conversation_messages", df, batch_size=3000)
    assert (report["imported"], report["rejected"], report["batches"]) == (n, 0, 4)
    k0 = acme.messages_for_conversation("k0")
    assert len(k0) == len(range(0, n, 3))
    assert k0[1]["content"] == "message 3" and k0[1]["timestamp"] == datetime(2024, 5, 1, 0, 0, 3, tzinfo=timezone.utc)


def test_import_from_pyarrow(acme: cidb.Tenant) -> None:
    table = pa.table({
        "id": ["a", "b", None],
        "department": ["sales", None, "x"],
        "created_at": pa.array([MS0 * 1000, None, MS0 * 1000], type=pa.timestamp("us", tz="UTC")),
        "updated_at": pa.array([MS0 * 1_000_000 + 1_999_999, None, None], type=pa.timestamp("ns")),
    })
    report = acme.import_records("customers", table)
    assert report["imported"] == 2 and rejects(report) == [(3, "invalid_input")]
    a = acme.get_customer("a")
    assert a is not None and a["created_at"] == T0 and a["updated_at"] == T0 + timedelta(milliseconds=1)
    b = acme.get_customer("b")
    assert b is not None and b["department"] == ""
    batch = pa.record_batch([pa.array(["rb"]), pa.array(["ops"])], names=["id", "department"])
    assert acme.import_records("customers", batch)["imported"] == 1
    rb = acme.get_customer("rb")
    assert rb is not None and rb["department"] == "ops"


def test_import_releases_the_gil(acme: cidb.Tenant) -> None:
    import threading
    import time

    ticks = 0
    stop = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    th = threading.Thread(target=tick)
    th.start()
    t0 = time.monotonic()
    report = acme.import_records("customers", [{"id": f"c{i}", "department": "d"} for i in range(20_000)])
    elapsed = time.monotonic() - t0
    stop.set()
    th.join()
    assert report["imported"] == 20_000
    # The ticker needs the GIL for each tick: it ran through most of the import.
    assert ticks > 0.3 * elapsed / 0.002, (ticks, elapsed)


def test_rejects_are_counted_beyond_max_rejects(acme: cidb.Tenant) -> None:
    rows = [{"id": ""}] * 5 + [{"id": "ok"}]
    report = acme.import_records("customers", rows, max_rejects=2)
    assert report["rejected"] == 5 and len(report["rejects"]) == 2 and report["imported"] == 1
    assert acme.import_records("customers", rows, max_rejects=0)["rejects"] == []


def test_other_tenants_rows_are_rejected(acme: cidb.Tenant) -> None:
    report = acme.import_records("customers", [{"id": "c1", "tenant_id": "acme"}, {"id": "c2", "tenant_id": "globex"}])
    assert report["imported"] == 1 and rejects(report) == [(2, "invalid_input")]
    assert "globex" in report["rejects"][0]["reason"]


def test_bad_arguments(acme: cidb.Tenant, tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("id\nc1\n")
    with pytest.raises(cidb.UnknownTableError, match="orders"):
        acme.import_csv("orders", good)
    with pytest.raises(cidb.InvalidInputError, match="latest_scores cannot be imported"):
        acme.import_records("latest_scores", [])
    with pytest.raises(cidb.InvalidInputError, match="cannot open"):
        acme.import_csv("customers", tmp_path / "missing.csv")
    with pytest.raises(cidb.InvalidInputError, match="cannot open"):
        acme.import_jsonl("customers", tmp_path / "missing.jsonl")
    unknown = tmp_path / "u.csv"
    unknown.write_text("id,colour\nc1,red\n")
    with pytest.raises(cidb.UnknownColumnError, match="colour"):
        acme.import_csv("customers", unknown)
    assert acme.import_csv("customers", unknown, ignore_unknown_columns=True)["imported"] == 1
    no_id = tmp_path / "n.csv"
    no_id.write_text("department\nsales\n")
    with pytest.raises(cidb.InvalidInputError, match='no column "id"'):
        acme.import_csv("customers", no_id)
    for kwargs in ({"batch_size": 0}, {"max_rejects": -1}, {"delimiter": "ab"}, {"delimiter": "é"}):
        with pytest.raises(cidb.InvalidInputError):
            acme.import_csv("customers", good, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress must be callable"):
        acme.import_csv("customers", good, progress=5)  # type: ignore[arg-type]
    for rows in ({"id": "c1"}, "id", b"id"):
        with pytest.raises(TypeError, match="rows must be an iterable of dicts"):
            acme.import_records("customers", rows)
    with pytest.raises(TypeError):
        acme.import_records("customers", 5)
    extra = pd.DataFrame({"Unnamed: 0": [0], "id": ["x1"]})  # a frame's header is checked up front
    with pytest.raises(cidb.UnknownColumnError, match="unknown column 'Unnamed: 0'.*ignore_unknown_columns"):
        acme.import_records("customers", extra)
    with pytest.raises(cidb.UnknownColumnError):
        acme.import_records("customers", pa.Table.from_pandas(extra))
    report = acme.import_records("customers", extra, ignore_unknown_columns=True)
    assert report["imported"] == 1 and report["notes"] == ['unknown column "Unnamed: 0" is ignored']
    acme.delete_customer("x1")
    dup = pd.DataFrame([["a", "b"]], columns=["id", "ID"])
    with pytest.raises(cidb.InvalidInputError, match="appears twice"):
        acme.import_records("customers", dup)
    assert acme.count_customers() == 1


def test_closed_engine(db: cidb.Engine, acme: cidb.Tenant, tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("id\nc1\n")
    db.close()
    for call in (lambda: acme.import_csv("customers", f), lambda: acme.import_jsonl("customers", f),
                 lambda: acme.import_records("customers", [{"id": "c1"}])):
        with pytest.raises(cidb.ClosedError):
            call()
