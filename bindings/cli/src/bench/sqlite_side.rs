//! SQLite's answers to the query workloads, with prepared (cached) statements. Where cidb
//! answers through a typed fast path, SQLite's rows are turned into the same model values
//! (`Customer`, `Score`, `Message`, JSON parsed) so both sides hand the caller the same
//! thing; statement workloads return rows of values on both sides. The join is one SQL
//! statement here (SQLite's best form): customers joined with latest_scores and an
//! `EXISTS` over recent messages.

use super::queries::{cid, Out, Q, QuerySide, RECENT_ROLE};
use super::sqlite::from_sql;
use cidb::datagen::{customer_id, tenant_name};
use cidb::{Customer, Message, Role, Score};
use rusqlite::{params, Connection, Row};
use std::ops::Deref;

const BY_ID: &str = "SELECT id, email, name, department, status, created_at, updated_at, attributes FROM customers WHERE tenant_id = ?1 AND id = ?2";
const LATEST: &str = "SELECT customer_id, score_type, score, confidence, created_at, model FROM latest_scores WHERE tenant_id = ?1 AND customer_id = ?2 AND score_type = ?3";
const HISTORY: &str = "SELECT customer_id, score_type, score, confidence, created_at, model FROM customer_scores WHERE tenant_id = ?1 AND customer_id = ?2 AND score_type = ?3 AND created_at >= ?4 AND created_at < ?5 ORDER BY created_at";
/// Segment query (SQLite form: tenant as a column).
pub const SEGMENT: &str = "SELECT * FROM customers WHERE tenant_id = ? AND department = ? AND status = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC LIMIT 100";
/// Tenant query.
pub const TENANT: &str = "SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 100";
/// Email lookup.
pub const EMAIL: &str = "SELECT * FROM customers WHERE tenant_id = ? AND email = ?";
/// High-score customers.
pub const HIGH: &str = "SELECT customer_id, score_type, score, confidence FROM customer_scores WHERE tenant_id = ? AND score > 0.7 AND confidence >= ? ORDER BY score DESC LIMIT 100";
const RECENT: &str = "SELECT id, customer_id, conversation_id, role, timestamp, content, metadata FROM conversation_messages WHERE tenant_id = ?1 AND customer_id = ?2 AND timestamp >= ?3 AND timestamp < ?4 AND role = ?5 ORDER BY timestamp, id";
/// The join.
pub const JOIN: &str = "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.tenant_id = c.tenant_id AND s.customer_id = c.id \
    WHERE c.tenant_id = ?1 AND c.department = ?2 AND s.score_type = ?3 AND s.score > 0.7 \
    AND EXISTS (SELECT 1 FROM conversation_messages m WHERE m.tenant_id = c.tenant_id AND m.customer_id = c.id AND m.timestamp > ?4)";

/// SQLite's side over one connection (borrowed or owned).
pub struct SqliteSide<C: Deref<Target = Connection>> {
    conn: C,
    /// Tenant names by index, formatted once (the cidb side holds a handle per tenant).
    names: Vec<String>,
}

impl<C: Deref<Target = Connection>> SqliteSide<C> {
    /// A side over `conn`; `tenants` as in the dataset.
    pub fn new(conn: C, tenants: usize) -> SqliteSide<C> {
        SqliteSide { conn, names: (0..tenants.max(1)).map(tenant_name).collect() }
    }

    /// The connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// SQLite's plan of each statement workload, for the report.
    pub fn plans(&self) -> Vec<(&'static str, String)> {
        let p = |sql: &str| -> String {
            let n = self.conn.prepare(sql).map(|s| s.parameter_count()).unwrap_or(0);
            let q = format!("EXPLAIN QUERY PLAN {sql}");
            let nulls = vec![rusqlite::types::Value::Null; n];
            let r = self.conn.prepare(&q).and_then(|mut st| {
                st.query_map(rusqlite::params_from_iter(nulls.iter()), |r| r.get::<_, String>(3))?.collect::<Result<Vec<_>, _>>()
            });
            r.map(|v| v.join("; ")).unwrap_or_else(|e| e.to_string())
        };
        vec![
            ("segment_query", p(SEGMENT)),
            ("tenant_query", p(TENANT)),
            ("email_lookup", p(EMAIL)),
            ("high_score_customers", p(HIGH)),
            ("join_high_score_recent", p(JOIN)),
        ]
    }

    fn tenant(&self, i: u32) -> &str {
        &self.names[i as usize % self.names.len()]
    }

    fn values(&self, sql: &str, ps: &[rusqlite::types::Value]) -> rusqlite::Result<Out> {
        let mut st = self.conn.prepare_cached(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(ps.iter()))?;
        let mut o = Out::default();
        while let Some(r) = rows.next()? {
            let vals: Vec<cidb::Value> = (0..n).map(|i| r.get_ref(i).map(from_sql)).collect::<Result<_, _>>()?;
            o.add(vals[0].as_str().map(str::as_bytes).unwrap_or(b""));
        }
        Ok(o)
    }
}

fn json(r: &Row<'_>, i: usize) -> rusqlite::Result<serde_json::Value> {
    let s: String = r.get(i)?;
    Ok(serde_json::from_str(&s).unwrap_or(serde_json::Value::Null))
}

fn customer(r: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        department: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        attributes: json(r, 7)?,
    })
}

fn score(r: &Row<'_>) -> rusqlite::Result<Score> {
    Ok(Score {
        customer_id: r.get(0)?,
        score_type: r.get(1)?,
        score: r.get(2)?,
        confidence: r.get(3)?,
        created_at: r.get(4)?,
        model: r.get(5)?,
    })
}

fn message(r: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = r.get(3)?;
    Ok(Message {
        id: r.get::<_, i64>(0)? as u64,
        customer_id: r.get(1)?,
        conversation_id: r.get(2)?,
        role: role.parse::<Role>().unwrap_or(Role::User),
        timestamp: r.get(4)?,
        content: r.get(5)?,
        metadata: json(r, 6)?,
    })
}

impl<C: Deref<Target = Connection>> QuerySide for SqliteSide<C> {
    fn run(&mut self, q: &Q) -> Result<Out, String> {
        use rusqlite::types::Value as S;
        let txt = |s: &str| S::Text(s.to_string());
        let mut o = Out::default();
        let r: rusqlite::Result<()> = (|| {
            match q {
                Q::ById(i) => {
                    let mut st = self.conn.prepare_cached(BY_ID)?;
                    let mut rows = st.query(params![self.tenant(*i), &*cid(*i)])?;
                    while let Some(r) = rows.next()? {
                        o.add(customer(r)?.id.as_bytes());
                    }
                }
                Q::Latest(i, stype) => {
                    let mut st = self.conn.prepare_cached(LATEST)?;
                    let mut rows = st.query(params![self.tenant(*i), &*cid(*i), stype])?;
                    while let Some(r) = rows.next()? {
                        o.add(score(r)?.customer_id.as_bytes());
                    }
                }
                Q::History(i, stype, from, to) => {
                    let mut st = self.conn.prepare_cached(HISTORY)?;
                    let mut rows = st.query(params![self.tenant(*i), &*cid(*i), stype, from, to])?;
                    while let Some(r) = rows.next()? {
                        o.add(&score(r)?.created_at.to_le_bytes());
                    }
                }
                Q::Segment { tenant, dept, status, from, to } => {
                    o = self.values(SEGMENT, &[txt(&self.names[*tenant]), txt(dept), txt(status), S::Integer(*from), S::Integer(*to)])?;
                }
                Q::TenantQ { tenant, status, dept } => {
                    o = self.values(TENANT, &[txt(&self.names[*tenant]), txt(status), txt(dept)])?;
                }
                Q::Email(i) => {
                    o = self.values(EMAIL, &[txt(self.tenant(*i)), S::Text(format!("{}@example.com", customer_id(*i as usize)))])?;
                }
                Q::HighScore { tenant, min_conf } => {
                    o = self.values(HIGH, &[txt(&self.names[*tenant]), S::Real(*min_conf)])?;
                }
                Q::Recent(i, from, to) => {
                    let mut st = self.conn.prepare_cached(RECENT)?;
                    let mut rows = st.query(params![self.tenant(*i), &*cid(*i), from, to, RECENT_ROLE.as_str()])?;
                    while let Some(r) = rows.next()? {
                        o.add(&message(r)?.id.to_le_bytes());
                    }
                }
                Q::Join { tenant, dept, score_type, since } => {
                    o = self.values(JOIN, &[txt(&self.names[*tenant]), txt(dept), txt(score_type), S::Integer(*since)])?;
                }
            }
            Ok(())
        })();
        r.map(|()| o).map_err(|e| e.to_string())
    }
}
