//! The SQLite side's setup and writes: one database file in WAL mode with
//! `synchronous=FULL` (every commit durable, like cidb's), the same tables
//! (`cidb::Table::sqlite_ddl`), unique indexes for the primary keys cidb keys by, and the
//! same seven seed indexes. SQLite cannot take `CREATE INDEX CONCURRENTLY` (dropped) nor a
//! partial index over `CURRENT_TIMESTAMP` (the sliding-window index becomes a plain index
//! on the same columns). Also: the dataset loader (one transaction), the durable score
//! write (score row plus latest-score upsert in one transaction) and the conversation
//! context update (read, merge, trim, write back in one `BEGIN IMMEDIATE` transaction).

use cidb::datagen::GenCustomer;
use cidb::schema::{customer_row, message_row, score_row};
use cidb::{ContextEntry, Customer, Message, Score, Table, Value};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// Shown in the report: how SQLite was set up.
pub const SETUP_NOTE: &str = "SQLite (bundled) in WAL mode, synchronous=FULL, cache_size=256 MB, busy_timeout=10 s, prepared statements, one connection per thread; all tenants in one table per store with tenant_id columns; unique indexes on the primary keys; the seven seed indexes without CONCURRENTLY, and the sliding-window index as a plain index on (timestamp, customer_id) because SQLite cannot index over CURRENT_TIMESTAMP.";

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

/// Opens a connection with the benchmark's settings.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;",
    )?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(c)
}

/// The seed indexes in SQLite's form.
pub fn seed_indexes() -> Vec<String> {
    cidb::index::SEED_INDEXES
        .iter()
        .map(|sql| {
            let s = sql.replace("CONCURRENTLY ", "");
            match s.find("\n  WHERE timestamp") {
                Some(i) => format!("{};", &s[..i]),
                None => s,
            }
        })
        .collect()
}

/// Creates the tables and every index (`customers_only`: just the customers table and its
/// indexes, for the bulk-ingest workload).
pub fn create_schema(c: &Connection, customers_only: bool) -> rusqlite::Result<()> {
    let tables: &[Table] = if customers_only { &[Table::Customers] } else { &Table::ALL };
    for t in tables {
        c.execute(&t.sqlite_ddl(), [])?;
    }
    c.execute("CREATE UNIQUE INDEX customers_pk ON customers(tenant_id, id)", [])?;
    for s in seed_indexes() {
        if !customers_only || s.contains(" ON customers(") {
            c.execute(&s, [])?;
        }
    }
    if !customers_only {
        c.execute("CREATE UNIQUE INDEX latest_scores_pk ON latest_scores(tenant_id, customer_id, score_type)", [])?;
        c.execute("CREATE UNIQUE INDEX conversation_messages_pk ON conversation_messages(id)", [])?;
        c.execute(
            "CREATE TABLE conversation_context (tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL, entries TEXT NOT NULL, \
             updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, conversation_id))",
            [],
        )?;
    }
    Ok(())
}

fn insert(c: &Connection, t: Table, row: &[Value]) -> rusqlite::Result<()> {
    let sql = match t {
        Table::Customers => "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        Table::Scores => "INSERT INTO customer_scores VALUES (?, ?, ?, ?, ?, ?, ?)",
        Table::LatestScores => "INSERT INTO latest_scores VALUES (?, ?, ?, ?, ?, ?, ?)",
        Table::Messages => "INSERT INTO conversation_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    };
    c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))?;
    Ok(())
}

/// Inserts customers (inside the caller's transaction).
pub fn insert_customers(c: &Connection, tenant: &str, cs: &[Customer]) -> rusqlite::Result<()> {
    for x in cs {
        insert(c, Table::Customers, &customer_row(tenant, x))?;
    }
    Ok(())
}

/// Inserts one loaded chunk: customers, scores, the latest score per type, messages.
pub fn insert_chunk(c: &Connection, tenant: &str, gs: &[GenCustomer], msgs: &[Message]) -> rusqlite::Result<()> {
    for g in gs {
        insert(c, Table::Customers, &customer_row(tenant, &g.customer))?;
        for s in &g.scores {
            insert(c, Table::Scores, &score_row(tenant, s))?;
        }
        for st in cidb::datagen::SCORE_TYPES {
            // Histories are generated oldest first, so the last of a type is the latest.
            if let Some(s) = g.scores.iter().rev().find(|s| s.score_type == st) {
                insert(c, Table::LatestScores, &score_row(tenant, s))?;
            }
        }
    }
    for m in msgs {
        insert(c, Table::Messages, &message_row(tenant, m))?;
    }
    Ok(())
}

/// A durable score write: the history row and the latest-score upsert in one transaction.
pub fn add_score(c: &Connection, tenant: &str, s: &Score) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let r = (|| {
        insert(c, Table::Scores, &score_row(tenant, s))?;
        c.prepare_cached(
            "INSERT INTO latest_scores VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(tenant_id, customer_id, score_type) \
             DO UPDATE SET score = excluded.score, confidence = excluded.confidence, created_at = excluded.created_at, \
             model = excluded.model WHERE excluded.created_at >= latest_scores.created_at",
        )?
        .execute(params![s.customer_id, s.score_type, s.score, s.confidence, s.created_at, s.model, tenant])?;
        Ok(())
    })();
    finish(c, r)
}

fn finish(c: &Connection, r: rusqlite::Result<()>) -> rusqlite::Result<()> {
    match r {
        Ok(()) => c.execute_batch("COMMIT"),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Merges `entries` into a conversation's context, keeps the newest `max_history`, resets
/// the TTL: the same rules as `Tenant::update_context`, as one transaction. Returns the
/// number of entries kept.
pub fn update_context(
    c: &Connection,
    tenant: &str,
    conv: &str,
    entries: &[ContextEntry],
    now: i64,
    ttl_ms: i64,
    max_history: usize,
) -> rusqlite::Result<usize> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let mut kept = 0;
    let r = (|| {
        let cur: Option<(String, i64)> = c
            .prepare_cached("SELECT entries, expires_at FROM conversation_context WHERE tenant_id = ?1 AND conversation_id = ?2")?
            .query_row(params![tenant, conv], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut all: Vec<ContextEntry> = match cur {
            Some((text, exp)) if exp > now => serde_json::from_str(&text).unwrap_or_default(),
            _ => Vec::new(),
        };
        all.extend_from_slice(entries);
        all.sort_by_key(|e| e.timestamp); // stable: ties keep arrival order
        if all.len() > max_history {
            all.drain(..all.len() - max_history);
        }
        kept = all.len();
        let text = serde_json::to_string(&all).unwrap_or_default();
        c.prepare_cached("INSERT OR REPLACE INTO conversation_context VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![tenant, conv, text, now, now + ttl_ms])?;
        Ok(())
    })();
    finish(c, r).map(|()| kept)
}
