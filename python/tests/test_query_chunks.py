"""Results in chunks, as a parallel scan returns them (one chunk of columns per scan
thread, never joined): rows read in order across chunk boundaries, and the Arrow /
pandas / polars exports when a column's type differs between chunks (all NULL in one,
INTEGER in another; INTEGER here and REAL there) must equal those of the same rows in one
chunk. Chunks are made directly (`cidb._cidb._chunked_result`) and by a real parallel
scan, checked against sqlite3 and against the serial path of the same query."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

import pytest

import cidb
from cidb import _cidb
from conftest import T0

COLS = ["id", "nul_int", "int_real", "text_json", "all_null"]
# An empty chunk in the middle; `nul_int` is all NULL in the first chunk, `int_real`
# INTEGER in the first and REAL in the third, `text_json` TEXT and JSON.
CHUNKS: list[list[tuple[Any, ...]]] = [
    [("a", None, 1, "x", None), ("b", None, None, None, None), ("c", None, 3, "y", None)],
    [],
    [("d", 5, 2.5, {"k": [1, 2]}, None), ("e", None, None, None, None)],
    [("f", -7, 4, "z", None)],
]
ROWS = [r for c in CHUNKS for r in c]


def test_rows_read_in_order_across_chunks() -> None:
    r = _cidb._chunked_result(COLS, CHUNKS)
    assert r.columns == COLS
    assert len(r) == r.rowcount == len(ROWS) == 6
    assert r.fetchone() == ROWS[0]
    assert r.fetchmany(3) == ROWS[1:4]  # over the end of a chunk and an empty one
    assert r.fetchmany(0) == []
    assert r.fetchmany(10) == ROWS[4:]
    assert r.fetchone() is None and r.fetchall() == [] and r.fetchmany(2) == []
    assert list(_cidb._chunked_result(COLS, CHUNKS)) == ROWS
    for size in range(1, 8):
        r = _cidb._chunked_result(COLS, CHUNKS)
        got: list[tuple[Any, ...]] = []
        while batch := r.fetchmany(size):
            got += batch
        assert got == ROWS, size
    r = _cidb._chunked_result(COLS, CHUNKS)
    assert r.fetchmany(2) == ROWS[:2] and r.fetchall() == ROWS[2:]
    empty = _cidb._chunked_result(COLS, [[], []])
    assert len(empty) == 0 and empty.fetchall() == [] and empty.to_arrow().num_rows == 0


def test_types_that_differ_between_chunks_export_as_in_one_chunk() -> None:
    pa = pytest.importorskip("pyarrow")
    chunked = _cidb._chunked_result(COLS, CHUNKS).to_arrow()
    single = _cidb._chunked_result(COLS, [ROWS]).to_arrow()
    assert chunked.schema == single.schema
    assert [f.type for f in chunked.schema] == [pa.string(), pa.int64(), pa.float64(),
                                               pa.string(), pa.null()]
    assert chunked.equals(single)
    assert chunked.column("nul_int").num_chunks == len(CHUNKS)
    assert chunked.column("nul_int").to_pylist() == [None, None, None, 5, None, -7]
    assert chunked.column("int_real").to_pylist() == [1.0, None, 3.0, 2.5, None, 4.0]
    assert chunked.column("text_json").to_pylist() == ["x", None, "y", '{"k":[1,2]}', None, "z"]
    assert [chunked.column(c).null_count for c in COLS] == [0, 4, 2, 2, 6]
    assert chunked.to_pylist() == single.to_pylist()


def test_pandas_and_polars_of_chunks() -> None:
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    chunked, single = _cidb._chunked_result(COLS, CHUNKS), _cidb._chunked_result(COLS, [ROWS])
    df, want = chunked.to_pandas(), single.to_pandas()
    pd.testing.assert_frame_equal(df, want)
    assert str(df["int_real"].dtype) == "float64"
    assert df["nul_int"].isna().tolist() == [True, True, True, False, True, False]
    pf, pwant = chunked.to_polars(), single.to_polars()
    assert pf.equals(pwant)
    assert pf.schema == pwant.schema
    assert pf["nul_int"].dtype == pl.Int64 and pf["int_real"].dtype == pl.Float64
    assert pf["all_null"].null_count() == 6


def test_a_column_with_no_arrow_type_fails_as_in_one_chunk() -> None:
    pa = pytest.importorskip("pyarrow")
    # Numbers in one chunk, text in another: no Arrow type; pyarrow refuses the values.
    split: list[list[tuple[Any, ...]]] = [[(1,)], [("x",)]]
    for chunks in (split, [split[0] + split[1]]):
        with pytest.raises(pa.ArrowException):
            _cidb._chunked_result(["v"], chunks).to_arrow()
    # The rows are still readable.
    assert _cidb._chunked_result(["v"], [[(1,)], [("x",)]]).fetchall() == [(1,), ("x",)]


def test_parallel_scan_matches_sqlite_and_the_serial_path(acme: cidb.Tenant) -> None:
    """150k rows: a full scan runs on several threads when the machine has more than one
    core. `name` is NULL in the first two thirds of the keys, so the first thread's chunk
    has an all-NULL name column and a later one text: the table must still type it as
    string, equal the serial path's (LIMIT makes a plan serial) and SQLite's rows."""
    pa = pytest.importorskip("pyarrow")
    n = 150_000
    customers = [
        {"id": f"c{i:07}", "email": f"c{i}@x.io" if i % 3 else None,
         "name": None if i < 100_000 or i % 2 else f"Näme {i}", "department": f"d{i % 7}",
         "created_at": T0 + i, "attributes": {"n": i}}
        for i in range(n)
    ]
    for start in range(0, n, 50_000):
        acme.upsert_customers(customers[start:start + 50_000])
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE customers (id TEXT, email TEXT, name TEXT, created_at INTEGER,"
                 " attributes TEXT)")
    lite.executemany("INSERT INTO customers VALUES (?,?,?,?,?)", [
        (c["id"], c["email"], c["name"], c["created_at"], json.dumps(c["attributes"]))
        for c in customers
    ])
    base = "SELECT id, email, name, created_at, attributes FROM customers"
    for order in ("", " ORDER BY id DESC"):
        r = acme.query(base + order)
        t = r.to_arrow()
        serial = acme.query(base + order + " LIMIT 10000000").to_arrow()
        assert serial.column("id").num_chunks == 1
        if len(os.sched_getaffinity(0)) > 1:
            assert t.column("id").num_chunks > 1, order
        assert t.schema == serial.schema and t.equals(serial), order
        assert t.schema.field("name").type == pa.string()
        assert t.column("name").null_count == n - len(range(100_000, n, 2))
        want = [(*w[:4], json.loads(w[4])) for w in
                lite.execute(base + (order or " ORDER BY id")).fetchall()]
        # Row access over the same chunks, in odd-sized batches across their boundaries.
        got: list[tuple[Any, ...]] = []
        while batch := r.fetchmany(7001):
            got += batch
        assert got == want, order
        cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
        cols[4] = [json.loads(v) for v in cols[4]]
        assert list(zip(*cols)) == want, order
