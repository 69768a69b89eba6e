//! Random queries over the supported SQL subset: single tables and the customers join,
//! nested AND/OR/NOT of comparisons, IN (with NULLs), BETWEEN, IS [NOT] NULL, constants and
//! `?` parameters (INTEGER, REAL and TEXT, including int/real mixes), projections, `*`,
//! aliases, aggregates with GROUP BY, ORDER BY (ordinals, aliases, NULLS FIRST/LAST) and
//! LIMIT/OFFSET. Queries with LIMIT order by every output column, so any correct engine
//! returns the same sequence.

use super::Pools;
use cidb::datagen::Rng;
use cidb::{Table, Value};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Cid,
    Tenant,
    Email,
    Name,
    Dept,
    Status,
    Ts,
    Json,
    Stype,
    Unit,
    Model,
    MsgId,
    Conv,
    Role,
    Content,
}

impl Kind {
    fn numeric(self) -> bool {
        matches!(self, Kind::Ts | Kind::Unit | Kind::MsgId)
    }
}

fn kind(t: Table, col: &str) -> Kind {
    match (t, col) {
        (Table::Customers, "id") | (_, "customer_id") => Kind::Cid,
        (_, "tenant_id") => Kind::Tenant,
        (_, "email") => Kind::Email,
        (_, "name") => Kind::Name,
        (_, "department") => Kind::Dept,
        (_, "status") => Kind::Status,
        (_, "created_at") | (_, "updated_at") | (_, "timestamp") => Kind::Ts,
        (_, "attributes") | (_, "metadata") => Kind::Json,
        (_, "score_type") => Kind::Stype,
        (_, "score") | (_, "confidence") => Kind::Unit,
        (_, "model") => Kind::Model,
        (Table::Messages, "id") => Kind::MsgId,
        (_, "conversation_id") => Kind::Conv,
        (_, "role") => Kind::Role,
        (_, "content") => Kind::Content,
        _ => panic!("no kind for {col}"),
    }
}

#[derive(Clone)]
struct Col {
    sql: String,
    kind: Kind,
}

/// A generated query.
#[derive(Debug, Clone)]
pub struct GenQuery {
    pub sql: String,
    pub params: Vec<Value>,
    /// ORDER BY covers every output column: compare sequences.
    pub total_order: bool,
    /// ORDER BY keys that are output columns (index, desc, nulls_first), for checking
    /// cidb's order when the order is partial.
    pub order_outputs: Vec<(usize, bool, bool)>,
}

pub struct Gen<'a> {
    rng: Rng,
    pools: &'a Pools,
    params: Vec<Value>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn lit(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(s) | Value::Json(s) => quote(s),
    }
}

impl<'a> Gen<'a> {
    pub fn new(seed: u64, pools: &'a Pools) -> Gen<'a> {
        Gen {
            rng: Rng::new(seed),
            pools,
            params: Vec::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.rng.below(v.len() as u64) as usize].clone()
    }

    fn pick_str(&mut self, v: &[String], extra: &str) -> Value {
        if v.is_empty() || self.chance(0.08) {
            return Value::Text(extra.to_string());
        }
        Value::Text(self.pick(v))
    }

    fn value(&mut self, k: Kind) -> Value {
        let p = self.pools;
        match k {
            Kind::Cid => self.pick_str(&p.customer_ids, "cust_zzz"),
            Kind::Tenant => Value::Text(
                self.pick(&["tenant_0", "tenant_0", "tenant_0", "tenant_1", "other"])
                    .to_string(),
            ),
            Kind::Email => self.pick_str(&p.emails, "a@b"),
            Kind::Name => self.pick_str(&p.names, "Customer 1"),
            Kind::Dept => self.pick_str(&p.departments, "sales"),
            Kind::Status => self.pick_str(&p.statuses, "gone"),
            Kind::Stype => self.pick_str(&p.score_types, "nps"),
            Kind::Model => self.pick_str(&p.models, "m"),
            Kind::Conv => self.pick_str(&p.conversations, "conv"),
            Kind::Content => self.pick_str(&p.contents, "hello"),
            Kind::Json => Value::Text("{}".into()),
            Kind::Role => Value::Text(
                self.pick(&["user", "assistant", "system", "agent", "tool", "bogus"])
                    .to_string(),
            ),
            Kind::Ts => {
                let t = self.pick(&p.timestamps) + self.rng.below(3) as i64 - 1;
                if self.chance(0.15) {
                    Value::Real(t as f64 + 0.5)
                } else {
                    Value::Int(t)
                }
            }
            Kind::MsgId => {
                let id = if p.message_ids.is_empty() {
                    1
                } else {
                    self.pick(&p.message_ids)
                };
                match self.rng.below(10) {
                    0 => Value::Int(-3),
                    1 => Value::Real(id as f64 + 0.5),
                    _ => Value::Int(id + self.rng.below(3) as i64 - 1),
                }
            }
            Kind::Unit => match self.rng.below(10) {
                0 => Value::Int(self.rng.below(2) as i64),
                1 | 2 => Value::Real((self.rng.below(100) as f64) / 100.0),
                _ => Value::Real(self.pick(&p.scores)),
            },
        }
    }

    /// A constant or a parameter.
    fn operand(&mut self, k: Kind) -> String {
        let v = if self.chance(0.03) {
            Value::Null
        } else {
            self.value(k)
        };
        if self.chance(0.3) {
            self.params.push(v);
            "?".into()
        } else {
            lit(&v)
        }
    }

    fn atom(&mut self, cols: &[Col]) -> String {
        let usable: Vec<Col> = cols
            .iter()
            .filter(|c| c.kind != Kind::Json)
            .cloned()
            .collect();
        let c = self.pick(&usable);
        match self.rng.below(100) {
            0..=9 => format!(
                "{} IS {}NULL",
                c.sql,
                if self.chance(0.5) { "NOT " } else { "" }
            ),
            10..=59 => {
                let op = self.pick(&["=", "=", "<>", "<", "<=", ">", ">="]);
                let v = self.operand(c.kind);
                if self.chance(0.15) {
                    format!("{v} {} {}", flip(op), c.sql)
                } else {
                    format!("{} {op} {v}", c.sql)
                }
            }
            60..=79 => {
                let n = 1 + self.rng.below(4) as usize;
                let vals: Vec<String> = (0..n).map(|_| self.operand(c.kind)).collect();
                format!(
                    "{} {}IN ({})",
                    c.sql,
                    if self.chance(0.2) { "NOT " } else { "" },
                    vals.join(", ")
                )
            }
            _ => {
                let (a, b) = (self.operand(c.kind), self.operand(c.kind));
                format!(
                    "{} {}BETWEEN {a} AND {b}",
                    c.sql,
                    if self.chance(0.2) { "NOT " } else { "" }
                )
            }
        }
    }

    fn pred(&mut self, cols: &[Col], depth: u32) -> String {
        if depth == 0 || self.chance(0.45) {
            return self.atom(cols);
        }
        match self.rng.below(5) {
            0 => format!("NOT ({})", self.pred(cols, depth - 1)),
            1 | 2 => format!(
                "({}) OR ({})",
                self.pred(cols, depth - 1),
                self.pred(cols, depth - 1)
            ),
            _ => format!(
                "{} AND {}",
                self.pred(cols, depth - 1),
                self.pred(cols, depth - 1)
            ),
        }
    }

    pub fn query(&mut self) -> GenQuery {
        self.params.clear();
        let join = self.chance(0.3);
        let mut sources: Vec<(Table, Option<&str>)> = Vec::new();
        let from_sql;
        if join {
            let child = self.pick(&[Table::Scores, Table::LatestScores, Table::Messages]);
            let on = if self.chance(0.5) {
                "x.customer_id = c.id"
            } else {
                "c.id = x.customer_id"
            };
            if self.chance(0.6) {
                from_sql = format!("customers c JOIN {} x ON {on}", child.name());
                sources.push((Table::Customers, Some("c")));
                sources.push((child, Some("x")));
            } else {
                from_sql = format!("{} x INNER JOIN customers c ON {on}", child.name());
                sources.push((child, Some("x")));
                sources.push((Table::Customers, Some("c")));
            }
        } else {
            let t = self.pick(&Table::ALL);
            let alias = if self.chance(0.3) { Some("t") } else { None };
            from_sql = match alias {
                Some(a) => format!("{} {a}", t.name()),
                None => t.name().to_string(),
            };
            sources.push((t, alias));
        }
        let mut cols = Vec::new();
        for (t, alias) in &sources {
            for c in t.columns() {
                let sql = match alias {
                    Some(a) if join || self.chance(0.5) => format!("{a}.{}", c.name),
                    _ => c.name.to_string(),
                };
                cols.push(Col {
                    sql,
                    kind: kind(*t, c.name),
                });
            }
        }
        let select_start = self.params.len();
        let aggregate = self.chance(0.3);
        let mut outputs: Vec<String> = Vec::new(); // SQL of each output (expression text)
        let mut aliases: Vec<Option<String>> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        let star;
        if aggregate {
            star = false;
            let plain: Vec<Col> = cols
                .iter()
                .filter(|c| c.kind != Kind::Json)
                .cloned()
                .collect();
            for _ in 0..self.rng.below(3) {
                let c = self.pick(&plain);
                if !group.contains(&c.sql) {
                    group.push(c.sql.clone());
                }
            }
            for g in &group {
                outputs.push(g.clone());
            }
            for _ in 0..1 + self.rng.below(3) {
                let num: Vec<Col> = plain.iter().filter(|c| c.kind.numeric()).cloned().collect();
                let a = match self.rng.below(6) {
                    0 => "COUNT(*)".to_string(),
                    1 => format!("COUNT({})", self.pick(&plain).sql),
                    2 => format!("SUM({})", self.pick(&num).sql),
                    3 => format!("AVG({})", self.pick(&num).sql),
                    4 => format!("MIN({})", self.pick(&plain).sql),
                    _ => format!("MAX({})", self.pick(&plain).sql),
                };
                outputs.push(a);
            }
            if self.chance(0.5) {
                let k = outputs.len();
                let i = self.rng.below(k as u64) as usize;
                let j = self.rng.below(k as u64) as usize;
                outputs.swap(i, j);
            }
            aliases = outputs.iter().map(|_| None).collect();
        } else if self.chance(0.15) {
            star = true;
            for c in &cols {
                outputs.push(c.sql.clone());
                aliases.push(None);
            }
        } else {
            star = false;
            for _ in 0..1 + self.rng.below(4) {
                let c = self.pick(&cols);
                outputs.push(c.sql.clone());
                aliases.push(None);
            }
        }
        for (i, a) in aliases.iter_mut().enumerate() {
            if !star && self.chance(0.2) {
                *a = Some(format!("o{i}"));
            }
        }
        let select_sql = if star {
            "*".to_string()
        } else {
            outputs
                .iter()
                .zip(&aliases)
                .map(|(o, a)| match a {
                    Some(a) => format!("{o} AS {a}"),
                    None => o.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = select_start;
        let mut sql = format!("SELECT {select_sql} FROM {from_sql}");
        if self.chance(0.75) {
            let p = self.pred(&cols, 2);
            sql.push_str(&format!(" WHERE {p}"));
        }
        if !group.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        }
        // ORDER BY.
        let mut keys: Vec<String> = Vec::new();
        let mut order_outputs = Vec::new();
        for _ in 0..self.rng.below(4) {
            let desc = self.chance(0.4);
            let nulls = match self.rng.below(6) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            let nulls_first = nulls.unwrap_or(!desc);
            let (key, out) = if aggregate || self.chance(0.5) {
                let i = self.rng.below(outputs.len() as u64) as usize;
                let k = match (&aliases[i], self.rng.below(3)) {
                    (Some(a), 0) => a.clone(),
                    (_, 1) => outputs[i].clone(),
                    _ => (i + 1).to_string(),
                };
                (k, Some(i))
            } else {
                let c = self.pick(&cols);
                (c.sql.clone(), None)
            };
            let mut k = format!(
                "{key}{}",
                if desc {
                    " DESC"
                } else if self.chance(0.3) {
                    " ASC"
                } else {
                    ""
                }
            );
            if let Some(n) = nulls {
                k.push_str(if n { " NULLS FIRST" } else { " NULLS LAST" });
            }
            keys.push(k);
            if let Some(i) = out {
                if order_outputs.len() == keys.len() - 1 {
                    order_outputs.push((i, desc, nulls_first));
                }
            }
        }
        let limit = self.chance(0.35);
        let mut total_order = false;
        if limit {
            for i in 0..outputs.len() {
                keys.push((i + 1).to_string());
            }
            total_order = true;
        }
        if !keys.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        if limit {
            let n = if self.chance(0.1) {
                -1
            } else {
                self.rng.below(20) as i64
            };
            if self.chance(0.3) {
                self.params.push(Value::Int(n));
                sql.push_str(" LIMIT ?");
            } else {
                sql.push_str(&format!(" LIMIT {n}"));
            }
            if self.chance(0.5) {
                sql.push_str(&format!(" OFFSET {}", self.rng.below(6)));
            }
        }
        if order_outputs.len() != keys.len() || total_order {
            // Only a pure prefix of output keys can be checked for a partial order.
            order_outputs.truncate(order_outputs.len().min(keys.len()));
        }
        GenQuery {
            sql,
            params: self.params.clone(),
            total_order,
            order_outputs,
        }
    }
}

fn flip(op: &str) -> &'static str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        "<>" => "<>",
        _ => "=",
    }
}
