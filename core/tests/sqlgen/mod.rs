//! Shared by the SQL oracle tests: loads one synthetic dataset into cidb and into SQLite
//! (same rows, same indexes where SQLite allows them), runs SQL on both and compares, and
//! generates random queries over every supported construct. The second tenant reuses the
//! first one's ids, so every oracle comparison also checks tenant isolation.
#![allow(dead_code)]

pub mod gen;

use cidb::datagen::{generate, GenConfig};
use cidb::schema::{customer_row, message_row, score_row};
use cidb::{Config, Engine, Table, Tenant, Value};
use rusqlite::Connection;

pub const NOW: i64 = 1_700_000_000_000;

/// Values seen in the data, for generating constants that hit rows.
#[derive(Default, Debug)]
pub struct Pools {
    pub customer_ids: Vec<String>,
    pub emails: Vec<String>,
    pub names: Vec<String>,
    pub departments: Vec<String>,
    pub statuses: Vec<String>,
    pub score_types: Vec<String>,
    pub models: Vec<String>,
    pub conversations: Vec<String>,
    pub contents: Vec<String>,
    pub timestamps: Vec<i64>,
    pub scores: Vec<f64>,
    pub message_ids: Vec<i64>,
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub engine: Engine,
    pub tenant: Tenant,
    pub sqlite: Connection,
    pub pools: Pools,
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Integer(*i),
        Value::Real(r) => S::Real(*r),
        Value::Text(s) | Value::Json(s) => S::Text(s.clone()),
    }
}

fn insert(conn: &Connection, t: Table, row: &[Value]) {
    let qs = vec!["?"; row.len()].join(", ");
    let sql = format!("INSERT INTO {} VALUES ({qs})", t.name());
    conn.execute(&sql, rusqlite::params_from_iter(row.iter().map(to_sql)))
        .unwrap();
}

/// Loads `customers` generated customers over two tenants; the oracle gets tenant_0 only.
pub fn load(customers: usize, seed: u64, seed_indexes: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default()
        .with_clock(cidb::Clock::manual(NOW))
        .with_seed_indexes(seed_indexes);
    let engine = Engine::open(dir.path(), cfg).unwrap();
    let sqlite = Connection::open_in_memory().unwrap();
    for t in Table::ALL {
        sqlite.execute(&t.sqlite_ddl(), []).unwrap();
    }
    let mut gc = GenConfig::new(customers, seed, NOW);
    gc.tenants = 2;
    let mut pools = Pools::default();
    let mut latest: Vec<(String, String)> = Vec::new();
    for (i, mut g) in generate(&gc).enumerate() {
        // Edge cases the generator does not produce by itself.
        if i % 5 == 0 {
            g.customer.created_at = NOW - 10 * 86_400_000; // ties
        }
        if i % 11 == 0 {
            g.customer.department = "Sales".into(); // case matters
        }
        if i % 13 == 0 {
            g.customer.department = "ünïcode".into(); // bytewise order beyond ASCII
        }
        for (k, s) in g.scores.iter_mut().enumerate() {
            if k % 7 == 3 {
                s.model = None;
            }
        }
        if g.tenant != "tenant_0" {
            // Tenant isolation under every generated construct: the other tenant reuses
            // tenant_0's ids (customer, email, conversations) for different rows, so a
            // query that leaked across tenants would disagree with the oracle.
            let old = g.customer.id.clone();
            let new = cidb::datagen::customer_id(i - i % gc.tenants);
            let swap = |s: &str| s.replace(&old, &new);
            g.customer.email = g.customer.email.as_deref().map(swap);
            for s in g.scores.iter_mut() {
                s.customer_id = new.clone();
            }
            for m in g.messages.iter_mut() {
                m.customer_id = new.clone();
                m.conversation_id = swap(&m.conversation_id);
            }
            g.customer.id = new;
        }
        let t = engine.tenant(&g.tenant).unwrap();
        t.upsert_customer(&g.customer).unwrap();
        t.add_scores(&g.scores).unwrap();
        let msgs = t.append_messages(&g.messages).unwrap();
        if g.tenant != "tenant_0" {
            continue;
        }
        insert(
            &sqlite,
            Table::Customers,
            &customer_row("tenant_0", &g.customer),
        );
        for s in &g.scores {
            insert(&sqlite, Table::Scores, &score_row("tenant_0", s));
            if !latest.contains(&(s.customer_id.clone(), s.score_type.clone())) {
                latest.push((s.customer_id.clone(), s.score_type.clone()));
            }
            pools.scores.push(s.score);
            pools.timestamps.push(s.created_at);
            if let Some(m) = &s.model {
                pools.models.push(m.clone());
            }
            pools.score_types.push(s.score_type.clone());
        }
        for m in &msgs {
            insert(&sqlite, Table::Messages, &message_row("tenant_0", m));
            pools.conversations.push(m.conversation_id.clone());
            pools.contents.push(m.content.clone());
            pools.timestamps.push(m.timestamp);
            pools.message_ids.push(m.id as i64);
        }
        let c = &g.customer;
        pools.customer_ids.push(c.id.clone());
        pools.emails.extend(c.email.clone());
        pools.names.extend(c.name.clone());
        pools.departments.push(c.department.clone());
        pools.statuses.push(c.status.clone());
        pools.timestamps.push(c.created_at);
        pools.timestamps.push(c.updated_at);
    }
    let tenant = engine.tenant("tenant_0").unwrap();
    for (cid, ty) in latest {
        let s = tenant.latest_score(&cid, &ty).unwrap().unwrap();
        insert(&sqlite, Table::LatestScores, &score_row("tenant_0", &s));
    }
    if seed_indexes {
        for sql in cidb::index::SEED_INDEXES {
            // SQLite has no CONCURRENTLY and refuses a non-deterministic partial predicate.
            let s = sql.replace("CONCURRENTLY ", "");
            let s = match s.find("\n  WHERE timestamp") {
                Some(i) => format!("{};", &s[..i]),
                None => s,
            };
            sqlite.execute(&s, []).unwrap();
        }
    }
    for p in [
        &mut pools.departments,
        &mut pools.statuses,
        &mut pools.score_types,
        &mut pools.models,
        &mut pools.conversations,
    ] {
        p.sort();
        p.dedup();
    }
    pools.customer_ids.push("nobody".into());
    Fixture {
        _dir: dir,
        engine,
        tenant,
        sqlite,
        pools,
    }
}

/// Runs SQL on SQLite and returns rows as cidb values (JSON columns come back as TEXT).
pub fn sqlite_rows(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Vec<Value>>, String> {
    let mut st = conn.prepare(sql).map_err(|e| e.to_string())?;
    let n = st.column_count();
    let mut rows = st
        .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            use rusqlite::types::ValueRef as V;
            row.push(match r.get_ref(i).unwrap() {
                V::Null => Value::Null,
                V::Integer(i) => Value::Int(i),
                V::Real(f) => Value::Real(f),
                V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                V::Blob(_) => panic!("unexpected blob"),
            });
        }
        out.push(row);
    }
    Ok(out)
}

/// A value normalised for comparison (JSON as text, floats to 10 significant digits).
pub fn norm(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => format!("i{i}"),
        Value::Real(r) => format!("r{:.9e}", r),
        Value::Text(s) | Value::Json(s) => format!("t{s}"),
    }
}

pub fn norm_rows(rows: &[Vec<Value>]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(norm).collect()).collect()
}
