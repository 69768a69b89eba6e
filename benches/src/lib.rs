//! Shared fixtures of the benchmarks: one synthetic dataset (the `datagen` generator) loaded
//! into cidb and, for the tenant benchmarked, into SQLite with the same indexes, plus the
//! seed query patterns with parameters that hit data.

use cidb::datagen::{generate, tenant_name, GenConfig, DAY_MS};
use cidb::schema::{customer_row, message_row, score_row};
use cidb::{Config, Engine, Table, Tenant, Value};
use rusqlite::Connection;

/// "Now" of the dataset.
pub const NOW: i64 = 1_700_000_000_000;

/// cidb and SQLite loaded with the same rows.
pub struct Fixture {
    /// Keeps the directories alive.
    pub dir: tempfile::TempDir,
    /// The engine.
    pub engine: Engine,
    /// The benchmarked tenant (`tenant_0`).
    pub tenant: Tenant,
    /// SQLite (file database, WAL) holding `tenant_0`'s rows.
    pub sqlite: Connection,
    /// A customer with an email and the most messages in the last 30 days.
    pub hot_customer: String,
}

/// Converts a cidb value for rusqlite.
pub fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Integer(*i),
        Value::Real(r) => S::Real(*r),
        Value::Text(s) | Value::Json(s) => S::Text(s.clone()),
    }
}

/// Converts a rusqlite value back.
pub fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(_) => Value::Null,
    }
}

/// Loads `customers` customers over three tenants.
pub fn load(customers: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("cidb"), Config::default().with_clock(cidb::Clock::manual(NOW))).unwrap();
    let mut sqlite = Connection::open(dir.path().join("sqlite.db")).unwrap();
    sqlite.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-200000;").unwrap();
    for t in Table::ALL {
        sqlite.execute(&t.sqlite_ddl(), []).unwrap();
    }
    let cfg = GenConfig::new(customers, 42, NOW);
    let all: Vec<_> = generate(&cfg).collect();
    let tx = sqlite.transaction().unwrap();
    let insert = |t: Table, row: &[Value]| {
        let qs = vec!["?"; row.len()].join(", ");
        tx.prepare_cached(&format!("INSERT INTO {} VALUES ({qs})", t.name()))
            .unwrap()
            .execute(rusqlite::params_from_iter(row.iter().map(to_sql)))
            .unwrap();
    };
    let mut best = (0usize, String::new());
    for ti in 0..cfg.tenants {
        let name = tenant_name(ti);
        let ten = engine.tenant(&name).unwrap();
        let mine: Vec<_> = all.iter().filter(|g| g.tenant == name).collect();
        for chunk in mine.chunks(500) {
            ten.upsert_customers(&chunk.iter().map(|g| g.customer.clone()).collect::<Vec<_>>()).unwrap();
            ten.add_scores(&chunk.iter().flat_map(|g| g.scores.clone()).collect::<Vec<_>>()).unwrap();
            let msgs = ten.append_messages(&chunk.iter().flat_map(|g| g.messages.clone()).collect::<Vec<_>>()).unwrap();
            if ti == 0 {
                for g in chunk {
                    insert(Table::Customers, &customer_row(&name, &g.customer));
                    for s in &g.scores {
                        insert(Table::Scores, &score_row(&name, s));
                    }
                    let recent = g.messages.iter().filter(|m| m.timestamp >= NOW - 30 * DAY_MS).count();
                    if g.customer.email.is_some() && recent > best.0 {
                        best = (recent, g.customer.id.clone());
                    }
                }
                for m in &msgs {
                    insert(Table::Messages, &message_row(&name, m));
                }
            }
        }
    }
    let tenant = engine.tenant("tenant_0").unwrap();
    for g in all.iter().filter(|g| g.tenant == "tenant_0") {
        for st in cidb::datagen::SCORE_TYPES {
            if let Some(s) = tenant.latest_score(&g.customer.id, st).unwrap() {
                insert(Table::LatestScores, &score_row("tenant_0", &s));
            }
        }
    }
    tx.commit().unwrap();
    for sql in cidb::index::SEED_INDEXES {
        let s = sql.replace("CONCURRENTLY ", "");
        let s = match s.find("\n  WHERE timestamp") {
            // SQLite refuses CURRENT_TIMESTAMP in a partial index: index the column fully.
            Some(i) => format!("{};", &s[..i]),
            None => s,
        };
        sqlite.execute(&s, []).unwrap();
    }
    sqlite.execute("CREATE UNIQUE INDEX latest_pk ON latest_scores(customer_id, score_type)", []).unwrap();
    sqlite.execute("CREATE UNIQUE INDEX customers_pk ON customers(id)", []).unwrap();
    sqlite.execute("CREATE UNIQUE INDEX messages_pk ON conversation_messages(id)", []).unwrap();
    sqlite.execute_batch("ANALYZE;").unwrap();
    engine.execute("ANALYZE").unwrap();
    Fixture { dir, engine, tenant, sqlite, hot_customer: best.1 }
}

/// A named query with parameters.
pub struct Pattern {
    /// Short name.
    pub name: &'static str,
    /// SQL (the same text runs on both engines).
    pub sql: &'static str,
    /// Parameters.
    pub params: Vec<Value>,
}

/// The seed query patterns (one per seed index) plus a primary-key point lookup.
pub fn patterns(f: &Fixture) -> Vec<Pattern> {
    let cid = Value::Text(f.hot_customer.clone());
    vec![
        Pattern { name: "pk_point", sql: "SELECT * FROM customers WHERE id = ?", params: vec![cid.clone()] },
        Pattern {
            name: "dept_status_created",
            sql: "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
            params: vec![Value::Text("sales".into()), Value::Text("active".into()), Value::Int(NOW - 180 * DAY_MS)],
        },
        Pattern {
            name: "score_history_count",
            sql: "SELECT COUNT(*) FROM customer_scores WHERE customer_id = ? AND score_type = ? AND created_at >= ?",
            params: vec![cid.clone(), Value::Text("churn_risk".into()), Value::Int(NOW - 365 * DAY_MS)],
        },
        Pattern {
            name: "messages_for_customer",
            sql: "SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
            params: vec![cid.clone(), Value::Int(NOW - 30 * DAY_MS), Value::Int(NOW)],
        },
        Pattern {
            name: "tenant_status",
            sql: "SELECT id, department FROM customers WHERE tenant_id = ? AND status = ? ORDER BY department LIMIT 50",
            params: vec![Value::Text("tenant_0".into()), Value::Text("at_risk".into())],
        },
        Pattern {
            name: "email_lookup",
            sql: "SELECT * FROM customers WHERE email = ?",
            params: vec![Value::Text(format!("{}@example.com", f.hot_customer))],
        },
        Pattern {
            name: "high_scores",
            sql: "SELECT customer_id, score, confidence FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 50",
            params: vec![],
        },
        Pattern {
            name: "recent_messages",
            sql: "SELECT customer_id, COUNT(*) FROM conversation_messages WHERE timestamp > ? GROUP BY customer_id",
            params: vec![Value::Int(NOW - 2 * DAY_MS)],
        },
        Pattern {
            name: "join_latest",
            sql: "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE c.department = ? AND c.status = ? AND s.score_type = ?",
            params: vec![Value::Text("legal".into()), Value::Text("at_risk".into()), Value::Text("churn_risk".into())],
        },
    ]
}

/// Runs a prepared SQLite statement and materialises the rows as cidb values.
pub fn sqlite_query(st: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Vec<Vec<Value>> {
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter().map(to_sql))).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push((0..n).map(|i| from_sql(r.get_ref(i).unwrap())).collect());
    }
    out
}

/// The SQL of the statement workloads of `cidb bench`, in the form both engines take
/// here (SQLite holds one tenant's rows, so no tenant column is needed).
pub mod sql {
    /// Department + status + created_at range, newest first, top 100.
    pub const SEGMENT: &str = "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC LIMIT 100";
    /// Tenant + status + department, 100 rows.
    pub const TENANT: &str = "SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 100";
    /// Email lookup.
    pub const EMAIL: &str = "SELECT * FROM customers WHERE email = ?";
    /// High-score customers.
    pub const HIGH: &str = "SELECT customer_id, score_type, score, confidence FROM customer_scores WHERE score > 0.7 AND confidence >= ? ORDER BY score DESC LIMIT 100";
    /// The join's SQL part (cidb then checks recent messages per row).
    pub const JOIN: &str = "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE c.department = ? AND s.score_type = ? AND s.score > 0.7";
    /// The whole join in one statement (SQLite).
    pub const JOIN_SQLITE: &str = "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE c.department = ?1 AND s.score_type = ?2 AND s.score > 0.7 AND EXISTS (SELECT 1 FROM conversation_messages m WHERE m.customer_id = c.id AND m.timestamp > ?3)";
    /// A customer by id.
    pub const BY_ID: &str = "SELECT id, email, name, department, status, created_at, updated_at, attributes FROM customers WHERE id = ?";
    /// A latest score.
    pub const LATEST: &str = "SELECT customer_id, score_type, score, confidence, created_at, model FROM latest_scores WHERE customer_id = ? AND score_type = ?";
    /// A score history.
    pub const HISTORY: &str = "SELECT customer_id, score_type, score, confidence, created_at, model FROM customer_scores WHERE customer_id = ? AND score_type = ? AND created_at >= ? AND created_at < ? ORDER BY created_at";
    /// A customer's recent messages of one role.
    pub const RECENT: &str = "SELECT id, customer_id, conversation_id, role, timestamp, content, metadata FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? AND timestamp < ? AND role = ? ORDER BY timestamp, id";
}

/// Ids of the benchmarked tenant's customers (`tenant_0` holds every third).
pub fn tenant0_ids(customers: usize) -> Vec<String> {
    (0..customers).step_by(3).map(cidb::datagen::customer_id).collect()
}

/// The dataset size from `CIDB_BENCH_CUSTOMERS` (default 15,000).
pub fn size_from_env() -> usize {
    std::env::var("CIDB_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(15_000)
}
