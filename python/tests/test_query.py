"""SQL from Python: `Tenant.query` / `prepare` / `explain`, `Engine.execute` / `indexes` /
`check_index`, the `Result` object (fetching, Arrow / pandas / polars export) and errors.
Results are checked against Python's sqlite3 fed the same rows and the same SQL."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest

import cidb
from conftest import T0

DAY = 86_400_000
DEPTS = ["sales", "support", "eng", "ops"]
STATUSES = ["active", "churned", "trial"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def load(t: cidb.Tenant, seed: int = 7, n: int = 120) -> sqlite3.Connection:
    """Random customers, scores and messages into `t` and into an in-memory SQLite with the
    same column order; created_at and score values are distinct so ORDER BY has no ties."""
    rnd = random.Random(seed)
    now = _now_ms()
    lite = sqlite3.connect(":memory:")
    lite.executescript(
        "CREATE TABLE customers (id TEXT, tenant_id TEXT, email TEXT, name TEXT,"
        " department TEXT, status TEXT, created_at INTEGER, updated_at INTEGER, attributes TEXT);"
        "CREATE TABLE customer_scores (customer_id TEXT, score_type TEXT, score REAL,"
        " confidence REAL, created_at INTEGER, model TEXT, tenant_id TEXT);"
        "CREATE TABLE conversation_messages (id INTEGER, customer_id TEXT, conversation_id TEXT,"
        " role TEXT, timestamp INTEGER, content TEXT, metadata TEXT, tenant_id TEXT);"
    )
    customers = []
    created = rnd.sample(range(1_600_000_000, 1_700_000_000), n)
    for i in range(n):
        c: dict[str, Any] = {
            "id": f"c{i:04d}",
            "email": None if i % 5 == 0 else f"u{i}@example.com",
            "name": None if i % 7 == 0 else f"Name {i}",
            "department": rnd.choice(DEPTS),
            "status": rnd.choice(STATUSES),
            "created_at": created[i] * 1000,
            "updated_at": created[i] * 1000 + 5,
            "attributes": {"plan": rnd.choice(["free", "pro"]), "seats": rnd.randint(1, 50)},
        }
        customers.append(c)
    t.upsert_customers(customers)
    for c in customers:
        lite.execute(
            "INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?)",
            (c["id"], t.name, c["email"], c["name"], c["department"], c["status"],
             c["created_at"], c["updated_at"], json.dumps(c["attributes"])),
        )
    scores: list[dict[str, Any]] = []
    used: set[float] = set()
    for i in range(n * 3):
        s = round(rnd.random(), 6)
        while s in used:
            s = round(rnd.random(), 6)
        used.add(s)
        scores.append({
            "customer_id": f"c{rnd.randrange(n):04d}",
            "score_type": rnd.choice(["churn_risk", "upsell"]),
            "score": s,
            "confidence": round(rnd.random(), 3),
            "created_at": now - rnd.randrange(60) * DAY - i,
            "model": None if i % 4 == 0 else "gbm-v3",
        })
    t.add_scores(scores)
    for sc in scores:
        lite.execute(
            "INSERT INTO customer_scores VALUES (?,?,?,?,?,?,?)",
            (sc["customer_id"], sc["score_type"], sc["score"], sc["confidence"],
             sc["created_at"], sc["model"], t.name),
        )
    msgs: list[dict[str, Any]] = []
    for i in range(n * 4):
        # whole days (plus 1 h) back: never near the 7-day window edge
        msgs.append({
            "customer_id": f"c{rnd.randrange(n):04d}",
            "conversation_id": f"t{rnd.randrange(40)}",
            "role": rnd.choice(["user", "assistant"]),
            "timestamp": now - rnd.randrange(20) * DAY - 3_600_000 - i,
            "content": f"message {i}",
            "metadata": {"i": i},
        })
    for m in t.append_messages(msgs):
        lite.execute(
            "INSERT INTO conversation_messages VALUES (?,?,?,?,?,?,?,?)",
            (m["id"], m["customer_id"], m["conversation_id"], m["role"],
             int(m["timestamp"].timestamp() * 1000), m["content"], json.dumps(m["metadata"]),
             t.name),
        )
    return lite


JSON_COLS = {"attributes", "metadata"}


def lite_rows(lite: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    cur = lite.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [
        tuple(json.loads(v) if names[i] in JSON_COLS and v is not None else v
              for i, v in enumerate(row))
        for row in cur.fetchall()
    ]


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


# The seven seed patterns of DESIGN.md (the SQLite text of the last computes the window
# itself; CURRENT_TIMESTAMP there is text). `ordered` = the ORDER BY fixes the row order.
SEED: list[tuple[str, str | None, list[Any], bool]] = [
    ("SELECT * FROM customers WHERE department = ? AND status = ? AND created_at > ? "
     "ORDER BY created_at DESC LIMIT 20", None,
     ["sales", "active", 1_620_000_000_000], True),
    ("SELECT COUNT(*) FROM customer_scores WHERE customer_id = ? AND score_type = ? "
     "AND created_at >= ?", None, ["c0003", "churn_risk", _now_ms() - 30 * DAY], True),
    ("SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? "
     "AND timestamp < ? ORDER BY timestamp", None,
     ["c0005", _now_ms() - 15 * DAY, _now_ms()], True),
    ("SELECT id, department FROM customers WHERE tenant_id = ? AND status = ? "
     "ORDER BY department", None, ["acme", "trial"], False),
    ("SELECT * FROM customers WHERE email = ?", None, ["u12@example.com"], True),
    ("SELECT customer_id, score, confidence FROM customer_scores WHERE score > 0.9 "
     "ORDER BY score DESC LIMIT 50", None, [], True),
    ("SELECT customer_id, COUNT(*) FROM conversation_messages "
     "WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '7 days' GROUP BY customer_id",
     "SELECT customer_id, COUNT(*) FROM conversation_messages "
     "WHERE timestamp > CAST(strftime('%s','now') AS INTEGER) * 1000 - 7 * 86400000 "
     "GROUP BY customer_id", [], False),
]

MORE: list[tuple[str, list[Any], bool]] = [
    ("SELECT department, status, COUNT(*), MIN(created_at), MAX(created_at) FROM customers "
     "GROUP BY department, status ORDER BY department, status", [], True),
    ("SELECT c.id, s.score FROM customers c JOIN customer_scores s ON s.customer_id = c.id "
     "WHERE c.status IN ('active', 'trial') AND s.score BETWEEN 0.2 AND 0.4", [], False),
    ("SELECT id, email FROM customers WHERE email IS NULL OR department <> 'eng' "
     "ORDER BY id LIMIT 10 OFFSET 5", [], True),
    ("SELECT score_type, AVG(score), SUM(confidence) FROM customer_scores GROUP BY score_type "
     "ORDER BY score_type", [], True),
]


@pytest.fixture
def loaded(acme: cidb.Tenant) -> sqlite3.Connection:
    return load(acme)


@pytest.mark.parametrize("i", range(len(SEED)))
def test_seed_patterns_match_sqlite(acme: cidb.Tenant, loaded: sqlite3.Connection, i: int) -> None:
    sql, lite_sql, params, ordered = SEED[i]
    got = acme.query(sql, params).fetchall()
    want = lite_rows(loaded, lite_sql or sql, params)
    assert len(want) > 0, "the data must exercise the query"
    if ordered:
        assert got == want
    else:
        assert _sorted(got) == _sorted(want)


@pytest.mark.parametrize("i", range(len(MORE)))
def test_more_queries_match_sqlite(acme: cidb.Tenant, loaded: sqlite3.Connection, i: int) -> None:
    sql, params, ordered = MORE[i]
    got = acme.query(sql, params).fetchall()
    want = lite_rows(loaded, sql, params)
    assert len(want) > 0
    if ordered:
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == pytest.approx(w) if any(isinstance(x, float) for x in w) else g == w
    else:
        assert _sorted(got) == _sorted(want)


def test_result_fetching_and_metadata(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    sql = "SELECT id, email, created_at, attributes FROM customers ORDER BY id"
    r = acme.query(sql)
    assert r.columns == ["id", "email", "created_at", "attributes"]
    assert r.rowcount == len(r) == 120
    assert r.stats["rows_returned"] == 120
    assert "customers" in r.stats["tables"]
    first = r.fetchone()
    assert first is not None
    assert first[0] == "c0000" and first[1] is None and isinstance(first[2], int)
    assert isinstance(first[3], dict) and set(first[3]) == {"plan", "seats"}
    two = r.fetchmany(size=2)
    assert [row[0] for row in two] == ["c0001", "c0002"]
    rest = list(r)
    assert len(rest) == 117 and rest[0][0] == "c0003"
    assert r.fetchone() is None and r.fetchall() == [] and r.fetchmany(5) == []
    with pytest.raises(ValueError):
        r.fetchmany(-1)
    # The exports cover every row whatever the cursor did.
    assert r.to_arrow().num_rows == 120


def test_params_types(acme: cidb.Tenant) -> None:
    t0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    t0_ms = int(t0.timestamp() * 1000)
    acme.upsert_customers([
        {"id": "a", "department": "x", "created_at": t0_ms - 1},
        {"id": "b", "department": "x", "created_at": t0_ms},
        {"id": "c", "department": "x", "created_at": t0_ms + 1},
    ])
    r = acme.query("SELECT id FROM customers WHERE created_at >= ? ORDER BY id", [t0])
    assert r.fetchall() == [("b",), ("c",)]
    r = acme.query("SELECT id FROM customers WHERE created_at >= ? ORDER BY id", (t0_ms,))
    assert r.fetchall() == [("b",), ("c",)]
    acme.add_score(customer_id="a", score_type="s", score=0.5, confidence=0.5, created_at=t0_ms)
    r = acme.query("SELECT customer_id FROM customer_scores WHERE score > ?", [0.25])
    assert r.fetchall() == [("a",)]
    r = acme.query("SELECT customer_id FROM customer_scores WHERE score > ?", [True])
    assert r.fetchall() == []  # True is 1
    r = acme.query("SELECT id FROM customers WHERE email IS NULL AND department = ?", ["x"])
    assert r.rowcount == 3
    with pytest.raises(cidb.InvalidParameterError, match="parameter 1"):
        acme.query("SELECT id FROM customers WHERE id = ?", [object()])
    with pytest.raises(cidb.InvalidParameterError, match="64 bits"):
        acme.query("SELECT id FROM customers WHERE created_at = ?", [2**70])
    with pytest.raises(cidb.InvalidParameterError, match="list or tuple"):
        acme.query("SELECT id FROM customers WHERE id = ?", "a")  # type: ignore[arg-type]


def test_prepared_statement(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    sql = "SELECT id, status FROM customers WHERE department = ? ORDER BY id"
    st = acme.prepare(sql)
    assert st.sql == sql
    assert st.param_count == 1
    assert st.columns == ["id", "status"]
    for d in DEPTS:
        assert st.query([d]).fetchall() == lite_rows(loaded, sql, [d])
    with pytest.raises(cidb.InvalidParameterError):
        st.query([])


def test_explain_text_json_and_analyze(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    sql = "SELECT * FROM customers WHERE email = ?"
    text = acme.explain(sql, ["u12@example.com"])
    assert isinstance(text, str) and "customers" in text
    j = acme.explain(sql, ["u12@example.com"], format="json")
    assert isinstance(j, (dict, list)) and "customers" in json.dumps(j)
    a = acme.explain(sql, ["u12@example.com"], analyze=True)
    assert a != text and "actual" in a.lower()
    with pytest.raises(ValueError, match="format"):
        acme.explain(sql, ["x"], format="yaml")


def test_engine_ddl_indexes_check(db: cidb.Engine, acme: cidb.Tenant,
                                  loaded: sqlite3.Connection) -> None:
    sql = "SELECT id FROM customers WHERE name = ?"
    assert "idx_py_name" not in acme.explain(sql, ["Name 3"])
    db.execute("CREATE INDEX idx_py_name ON customers(name)")
    names = {i["name"]: i for i in db.indexes()}
    assert names["idx_py_name"]["columns"] == ["name"]
    assert names["idx_py_name"]["table"] == "customers"
    assert "idx_py_name" in acme.explain(sql, ["Name 3"])
    assert acme.query(sql, ["Name 3"]).fetchall() == [("c0003",)]
    check = db.check_index("idx_py_name")
    assert check["missing"] == 0 and check["extra"] == 0 and check["entries"] > 0
    db.execute("ANALYZE")
    db.execute("DROP INDEX idx_py_name")
    assert "idx_py_name" not in {i["name"] for i in db.indexes()}
    with pytest.raises(cidb.Error):
        db.check_index("idx_py_name")


def test_to_arrow_types_and_nulls(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    pa = pytest.importorskip("pyarrow")
    sql = ("SELECT c.id, c.email, c.created_at, c.attributes, s.score, s.model FROM customers c "
           "JOIN customer_scores s ON s.customer_id = c.id ORDER BY s.score")
    r = acme.query(sql)
    rows = r.fetchall()
    tbl = r.to_arrow()
    assert tbl.column_names == ["id", "email", "created_at", "attributes", "score", "model"]
    assert tbl.schema.field("id").type == pa.string()
    assert tbl.schema.field("email").type == pa.string()
    assert tbl.schema.field("created_at").type == pa.int64()
    assert tbl.schema.field("score").type == pa.float64()
    assert tbl.column("email").null_count == sum(1 for x in rows if x[1] is None) > 0
    assert tbl.column("model").null_count == sum(1 for x in rows if x[5] is None) > 0
    for i, name in enumerate(tbl.column_names):
        col = tbl.column(name).to_pylist()
        want = [json.dumps(x[i], separators=(",", ":")) if name == "attributes" else x[i]
                for x in rows]
        if name == "attributes":
            assert [json.loads(v) for v in col] == [x[i] for x in rows]
        else:
            assert col == want
    empty = acme.query("SELECT customer_id, score FROM customer_scores WHERE score > 2")
    assert empty.to_arrow().num_rows == 0


def test_to_arrow_nullable_int_and_null_column(acme: cidb.Tenant) -> None:
    pa = pytest.importorskip("pyarrow")
    acme.upsert_customers([{"id": "a", "department": "d"}, {"id": "b", "department": "e"}])
    r = acme.query("SELECT department, MAX(created_at), MIN(email) FROM customers "
                   "WHERE id = 'zz' GROUP BY department")
    assert r.rowcount == 0
    r = acme.query("SELECT MAX(created_at), MIN(email), COUNT(*) FROM customers WHERE id = 'zz'")
    t = r.to_arrow()
    row = r.fetchall()
    assert t.to_pylist() == [dict(zip(r.columns, row[0]))]
    assert t.column(0).null_count == 1


def test_to_pandas_round_trip(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    pd = pytest.importorskip("pandas")
    r = acme.query("SELECT c.id, c.email, c.created_at, s.score FROM customers c JOIN "
                   "customer_scores s ON s.customer_id = c.id ORDER BY s.score")
    df = r.to_pandas()
    rows = r.fetchall()
    assert list(df.columns) == r.columns
    assert len(df) == len(rows)
    assert str(df["created_at"].dtype) == "int64"
    assert str(df["score"].dtype) == "float64"
    assert df["email"].isna().tolist() == [x[1] is None for x in rows]
    assert df["score"].tolist() == [x[3] for x in rows]
    assert pd.api.types.is_object_dtype(df["id"]) or pd.api.types.is_string_dtype(df["id"])


def test_to_polars(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    pl = pytest.importorskip("polars")
    r = acme.query("SELECT id, email, created_at FROM customers ORDER BY id")
    df = r.to_polars()
    assert df.columns == ["id", "email", "created_at"]
    assert df["created_at"].dtype == pl.Int64
    assert df.rows() == r.fetchall()


def test_queries_from_many_threads(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    cases: list[tuple[str, list[Any]]] = [(s, p) for s, _, p, ordered in SEED if ordered]
    cases += [(s, p) for s, p, _ in MORE]
    expected = [acme.query(s, p).fetchall() for s, p in cases]
    st = acme.prepare(cases[0][0])
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(k: int) -> None:
        try:
            barrier.wait()
            for j in range(15):
                i = (k + j) % len(cases)
                assert acme.query(*cases[i]).fetchall() == expected[i]
                assert st.query(cases[0][1]).fetchall() == expected[0]
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_gil_released_during_query(acme: cidb.Tenant, loaded: sqlite3.Connection) -> None:
    # A Python thread keeps counting while another thread runs queries: with the GIL held
    # through each query it could only count in the gaps between them.
    sql = ("SELECT c.department, COUNT(*), AVG(s.score) FROM customers c JOIN customer_scores s "
           "ON s.customer_id = c.id GROUP BY c.department")
    stop = threading.Event()
    ticks = 0

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    th = threading.Thread(target=count)
    th.start()
    try:
        for _ in range(30):
            acme.query(sql)
    finally:
        stop.set()
        th.join()
    assert ticks > 0


@pytest.mark.parametrize("sql,params,cls", [
    ("SELEC * FROM customers", [], cidb.SqlSyntaxError),
    ("SELECT * FROM nope", [], cidb.UnknownTableError),
    ("SELECT nope FROM customers", [], cidb.UnknownColumnError),
    ("SELECT * FROM customers WHERE status > 3", [], cidb.TypeMismatchError),
    ("SELECT DISTINCT status FROM customers", [], cidb.UnsupportedError),
    ("SELECT * FROM customers WHERE id = ?", [], cidb.InvalidParameterError),
])
def test_errors(acme: cidb.Tenant, sql: str, params: list[Any], cls: type[cidb.Error]) -> None:
    with pytest.raises(cls) as e:
        acme.query(sql, params)
    assert isinstance(e.value, cidb.Error)
    assert str(e.value)
    with pytest.raises(cls):
        acme.prepare(sql).query(params)


def test_errors_python_bases(acme: cidb.Tenant) -> None:
    with pytest.raises(ValueError):
        acme.query("SELEC 1")
    with pytest.raises(TypeError):
        acme.query("SELECT * FROM customers WHERE status > 3")
    with pytest.raises(NotImplementedError):
        acme.query("SELECT DISTINCT status FROM customers")


def test_closed_engine(db: cidb.Engine, acme: cidb.Tenant) -> None:
    st = acme.prepare("SELECT id FROM customers")
    db.close()
    with pytest.raises(cidb.ClosedError):
        acme.query("SELECT id FROM customers")
    with pytest.raises(cidb.ClosedError):
        st.query()


def test_to_arrow_shares_buffers_that_outlive_the_result(acme: cidb.Tenant) -> None:
    pa = pytest.importorskip("pyarrow")
    import gc

    # More rows than the engine samples before sizing its column buffers (1024), with
    # NULLs scattered through text and integer-free columns.
    acme.upsert_customers([
        {"id": f"k{i:05}", "email": None if i % 3 == 0 else f"k{i}@x.io",
         "name": None if i % 7 == 0 else f"Näme {i}", "department": f"d{i % 5}",
         "created_at": T0 + i, "attributes": {"n": i, "tags": ["a"] if i % 2 else []}}
        for i in range(3000)
    ])
    sql = "SELECT id, email, name, created_at, attributes FROM customers ORDER BY id"
    r = acme.query(sql)
    rows = r.fetchall()
    tbl = r.to_arrow()
    again = r.to_arrow()
    del r
    gc.collect()
    _ = [bytes(100) for _ in range(10_000)]  # reuse freed memory, if any was freed
    assert tbl.num_rows == 3000 and tbl.equals(again)
    assert [f.type for f in tbl.schema] == [pa.string(), pa.string(), pa.string(), pa.int64(),
                                           pa.string()]
    assert tbl.column("email").null_count == 1000
    assert tbl.column("name").null_count == len(range(0, 3000, 7))
    got = tbl.to_pylist()
    for row, d in zip(rows, got):
        assert (d["id"], d["email"], d["name"], d["created_at"]) == row[:4]
        assert json.loads(d["attributes"]) == row[4]
    limited = acme.query(sql + " LIMIT 1500 OFFSET 10").to_arrow()
    assert limited.to_pylist() == got[10:1510]


def test_result_reads_the_same_before_and_after_export(acme: cidb.Tenant) -> None:
    pytest.importorskip("pyarrow")
    acme.upsert_customers([{"id": f"r{i}", "department": "d", "created_at": T0 + i} for i in range(5)])
    r = acme.query("SELECT id, created_at, name FROM customers ORDER BY id")
    first = r.fetchone()
    t = r.to_arrow()
    assert first == ("r0", T0, None)
    assert r.fetchall() == [(f"r{i}", T0 + i, None) for i in range(1, 5)]
    assert str(t.column("name").type) == "null"
    assert t.column("id").to_pylist() == [f"r{i}" for i in range(5)]


def test_to_arrow_of_a_large_scan_matches_sqlite(db: cidb.Engine, acme: cidb.Tenant) -> None:
    """Enough rows (150k) that a full scan runs on several threads when the machine has
    more than one core (each reads one key range of the same snapshot): the exported
    table must still hold exactly SQLite's rows in key order, NULLs and deletes included,
    with filters, DESC order, and neighbouring tenants' rows kept out."""
    pytest.importorskip("pyarrow")
    rnd = random.Random(11)
    ids = sorted({"".join(rnd.choice("0123456789abcdefXYZ_-") for _ in range(rnd.randint(1, 12)))
                  for _ in range(160_000)})[:150_000]
    customers = [
        {"id": cid, "email": None if rnd.random() < 0.2 else f"{cid}@x.io",
         "name": None if i % 2 else f"Näme {i}", "department": f"d{i % 7}",
         "created_at": T0 + rnd.randrange(10**9), "attributes": {"n": i}}
        for i, cid in enumerate(ids)
    ]
    for start in range(0, len(customers), 50_000):
        acme.upsert_customers(customers[start:start + 50_000])
    for other in ("acmd", "acmf"):
        db.tenant(other).upsert_customers(customers[:1000:3])
    gone = set(rnd.sample(ids, 2_000))
    for cid in gone:
        acme.delete_customer(cid)
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE customers (id TEXT, email TEXT, name TEXT, department TEXT,"
                 " created_at INTEGER, attributes TEXT)")
    lite.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?)", [
        (c["id"], c["email"], c["name"], c["department"], c["created_at"],
         json.dumps(c["attributes"]))
        for c in customers if c["id"] not in gone
    ])
    for sql in [
        "SELECT id, email, name, department, created_at, attributes FROM customers",
        "SELECT id, name, created_at FROM customers WHERE department = 'd3' AND name IS NULL",
        "SELECT id, email FROM customers ORDER BY id DESC",
    ]:
        got = acme.query(sql).to_arrow()
        want = lite.execute(sql + ("" if "ORDER BY" in sql else " ORDER BY id")).fetchall()
        cols = [got.column(i).to_pylist() for i in range(got.num_columns)]
        if "attributes" in got.column_names:
            a = got.column_names.index("attributes")
            cols[a] = [json.loads(v) for v in cols[a]]
            want = [(*w[:a], json.loads(w[a]), *w[a + 1:]) for w in want]
        assert got.num_rows == len(want) > 1000, sql
        rows = list(zip(*cols))
        if "WHERE" in sql:  # an index may serve the filter: its order, not the key's
            rows.sort(key=lambda r: r[0])
        assert rows == want, sql
