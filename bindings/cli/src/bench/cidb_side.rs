//! cidb's answers to the query workloads: the typed fast paths where the API has one
//! (customer by id, latest score, score history, a customer's messages) and prepared SQL
//! statements for the rest, one statement per tenant handle. The join is one SQL join
//! (customers with latest_scores, department and score filters) followed by the
//! recent-message check through the messages fast path: the SQL subset allows one join
//! and this question spans three tables. Customer by id and latest score use the shared
//! forms (`get_customer_shared`, `latest_score_shared`): the record comes back as the
//! cache's own immutable `Arc`, as any caller that only reads it would take it.

use super::queries::{cid, Out, Q, QuerySide, HIGH, RECENT_ROLE};
use cidb::{Statement, Tenant, Value};

/// SQL of the statement-based workloads (cidb form: the tenant handle scopes them).
pub const SEGMENT_SQL: &str = "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC LIMIT 100";
/// Tenant + status + department.
pub const TENANT_SQL: &str = "SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 100";
/// Email lookup.
pub const EMAIL_SQL: &str = "SELECT * FROM customers WHERE email = ?";
/// High-score customers.
pub const HIGH_SQL: &str = "SELECT customer_id, score_type, score, confidence FROM customer_scores WHERE score > 0.7 AND confidence >= ? ORDER BY score DESC LIMIT 100";
/// The join's SQL part.
pub const JOIN_SQL: &str = "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE c.department = ? AND s.score_type = ? AND s.score > 0.7";

struct Stmts {
    segment: Statement,
    tenant: Statement,
    email: Statement,
    high: Statement,
    join: Statement,
}

/// cidb's side.
pub struct CidbSide {
    tenants: Vec<Tenant>,
    stmts: Vec<Stmts>,
    ntenants: usize,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn key_of(v: &Value) -> &[u8] {
    v.as_str().map(str::as_bytes).unwrap_or(b"")
}

impl CidbSide {
    /// Prepares every statement on every tenant.
    pub fn new(tenants: &[Tenant]) -> cidb::Result<CidbSide> {
        let stmts = tenants
            .iter()
            .map(|t| {
                Ok(Stmts {
                    segment: t.prepare(SEGMENT_SQL)?,
                    tenant: t.prepare(TENANT_SQL)?,
                    email: t.prepare(EMAIL_SQL)?,
                    high: t.prepare(HIGH_SQL)?,
                    join: t.prepare(JOIN_SQL)?,
                })
            })
            .collect::<cidb::Result<_>>()?;
        Ok(CidbSide { tenants: tenants.to_vec(), stmts, ntenants: tenants.len().max(1) })
    }

    fn t(&self, i: u32) -> &Tenant {
        &self.tenants[i as usize % self.ntenants]
    }

    /// The plan of each statement workload (first line), for the report.
    pub fn plans(&self) -> Vec<(&'static str, String)> {
        let t = &self.tenants[0];
        let p = |sql: &str, params: &[Value]| {
            t.explain(sql, params, false).map(|e| e.steps().iter().map(|s| s.detail.clone()).collect::<Vec<_>>().join("; ")).unwrap_or_else(|e| e.to_string())
        };
        vec![
            ("segment_query", p(SEGMENT_SQL, &[text("sales"), text("active"), Value::Int(0), Value::Int(1)])),
            ("tenant_query", p(TENANT_SQL, &[text("tenant_0"), text("active"), text("sales")])),
            ("email_lookup", p(EMAIL_SQL, &[text("x@example.com")])),
            ("high_score_customers", p(HIGH_SQL, &[Value::Real(0.5)])),
            ("join_high_score_recent", p(JOIN_SQL, &[text("sales"), text("churn_risk")])),
        ]
    }
}

fn rows_out(r: cidb::Result<cidb::QueryResult>, key_col: usize) -> Result<Out, String> {
    let r = r.map_err(|e| e.to_string())?;
    let mut o = Out::default();
    for row in &r.rows {
        o.add(row.get(key_col).map(key_of).unwrap_or(b""));
    }
    Ok(o)
}

impl QuerySide for CidbSide {
    fn run(&mut self, q: &Q) -> Result<Out, String> {
        let e = |e: cidb::Error| e.to_string();
        let mut o = Out::default();
        match q {
            Q::ById(i) => {
                let id = cid(*i);
                if let Some(c) = self.t(*i).get_customer_shared(&id).map_err(e)? {
                    o.add(c.id.as_bytes());
                }
            }
            Q::Latest(i, st) => {
                let id = cid(*i);
                if let Some(s) = self.t(*i).latest_score_shared(&id, st).map_err(e)? {
                    o.add(s.customer_id.as_bytes());
                }
            }
            Q::History(i, st, from, to) => {
                let id = cid(*i);
                for s in self.t(*i).score_history(&id, st, *from, *to).map_err(e)? {
                    o.add(&s.created_at.to_le_bytes());
                }
            }
            Q::Segment { tenant, dept, status, from, to } => {
                let p = [text(dept), text(status), Value::Int(*from), Value::Int(*to)];
                return rows_out(self.stmts[*tenant].segment.query(&p), 0);
            }
            Q::TenantQ { tenant, status, dept } => {
                let p = [text(self.tenants[*tenant].name()), text(status), text(dept)];
                return rows_out(self.stmts[*tenant].tenant.query(&p), 0);
            }
            Q::Email(i) => {
                let p = [Value::Text(format!("{}@example.com", cidb::datagen::customer_id(*i as usize)))];
                return rows_out(self.stmts[*i as usize % self.ntenants].email.query(&p), 0);
            }
            Q::HighScore { tenant, min_conf } => {
                return rows_out(self.stmts[*tenant].high.query(&[Value::Real(*min_conf)]), 0);
            }
            Q::Recent(i, from, to) => {
                let id = cid(*i);
                for m in self.t(*i).messages_for_customer(&id, *from, *to, Some(RECENT_ROLE), 0).map_err(e)? {
                    o.add(&m.id.to_le_bytes());
                }
            }
            Q::Join { tenant, dept, score_type, since } => {
                let t = &self.tenants[*tenant];
                let r = self.stmts[*tenant].join.query(&[text(dept), text(score_type)]).map_err(e)?;
                for row in &r.rows {
                    let id = row[0].as_str().unwrap_or("");
                    debug_assert!(row[2].as_f64().is_some_and(|s| s > HIGH));
                    if !t.messages_for_customer(id, since + 1, i64::MAX, None, 1).map_err(e)?.is_empty() {
                        o.add(id.as_bytes());
                    }
                }
            }
        }
        Ok(o)
    }
}
