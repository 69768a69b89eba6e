//! Structure-aware SELECT generation for the differential target: every choice (table,
//! join, predicate shape, constant, parameter, aggregate, ORDER BY key, LIMIT) is read from
//! the fuzzer's bytes through `arbitrary::Unstructured`, so libFuzzer's mutations become
//! small edits of the query. The subset is the one SQLite and cidb must agree on (the same
//! as `core/tests/sqlgen/gen.rs`): comparisons of a column with a constant or `?` of its
//! own class (numbers mix INTEGER and REAL), IN (with NULLs), BETWEEN, IS [NOT] NULL,
//! NOT/AND/OR, constants in the select list, aggregates with GROUP BY, ORDER BY (ordinals,
//! aliases, expressions, NULLS FIRST/LAST), LIMIT/OFFSET (with ORDER BY on every output so
//! the expected sequence is unique), and the customers join.

use crate::oracle::{OrderSpec, Pools};
use arbitrary::Unstructured;
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
        _ => Kind::Json, // unknown columns are never used in predicates
    }
}

#[derive(Clone)]
struct Col {
    sql: String,
    kind: Kind,
}

/// A generated query with its parameters and what its ORDER BY promises.
#[derive(Debug, Clone)]
pub struct GenQuery {
    pub sql: String,
    pub params: Vec<Value>,
    pub order: OrderSpec,
}

pub struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
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

impl<'a, 'b> Gen<'a, 'b> {
    pub fn new(u: &'a mut Unstructured<'b>, pools: &'a Pools) -> Self {
        Gen { u, pools, params: Vec::new() }
    }

    /// A number in `0..n` (0 once the input is exhausted).
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.u.int_in_range(0..=n - 1).unwrap_or(0)
    }

    /// True with probability about `pct` percent.
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())].clone()
    }

    fn pick_str(&mut self, v: &[String], extra: &str) -> Value {
        if v.is_empty() || self.chance(8) {
            return Value::Text(extra.to_string());
        }
        Value::Text(self.pick(v))
    }

    /// A free-form text constant: any UTF-8 the input holds (quotes, unicode, NUL-free).
    fn raw_text(&mut self) -> Value {
        let s: String = self.u.arbitrary().unwrap_or_default();
        Value::Text(s.replace('\0', ""))
    }

    fn value(&mut self, k: Kind) -> Value {
        let p = self.pools;
        if !k.numeric() && self.chance(4) {
            return self.raw_text();
        }
        match k {
            Kind::Cid => self.pick_str(&p.customer_ids, "cust_zzz"),
            Kind::Tenant => Value::Text(self.pick(&["tenant_0", "tenant_0", "tenant_1", "other"]).to_string()),
            Kind::Email => self.pick_str(&p.emails, "a@b"),
            Kind::Name => self.pick_str(&p.names, "Customer 1"),
            Kind::Dept => self.pick_str(&p.departments, "sales"),
            Kind::Status => self.pick_str(&p.statuses, "gone"),
            Kind::Stype => self.pick_str(&p.score_types, "nps"),
            Kind::Model => self.pick_str(&p.models, "m"),
            Kind::Conv => self.pick_str(&p.conversations, "conv"),
            Kind::Content => self.pick_str(&p.contents, "hello"),
            Kind::Json => Value::Text("{}".into()),
            Kind::Role => Value::Text(self.pick(&["user", "assistant", "system", "agent", "tool", "bogus"]).to_string()),
            Kind::Ts => {
                let t = if p.timestamps.is_empty() { crate::oracle::NOW } else { self.pick(&p.timestamps) };
                match self.below(12) {
                    0 => Value::Real(t as f64 + 0.5),
                    1 => Value::Int(self.u.arbitrary().unwrap_or(0)),
                    _ => Value::Int(t + self.below(3) as i64 - 1),
                }
            }
            Kind::MsgId => {
                let id = if p.message_ids.is_empty() { 1 } else { self.pick(&p.message_ids) };
                match self.below(10) {
                    0 => Value::Int(-3),
                    1 => Value::Real(id as f64 + 0.5),
                    _ => Value::Int(id + self.below(3) as i64 - 1),
                }
            }
            Kind::Unit => match self.below(12) {
                0 => Value::Int(self.below(2) as i64),
                1 | 2 => Value::Real(self.below(101) as f64 / 100.0),
                3 => {
                    let f: f64 = self.u.arbitrary().unwrap_or(0.5);
                    Value::Real(if f.is_finite() { f } else { 0.5 })
                }
                _ => Value::Real(if p.scores.is_empty() { 0.5 } else { self.pick(&p.scores) }),
            },
        }
    }

    /// A constant or a parameter of kind `k` (NULL now and then).
    fn operand(&mut self, k: Kind) -> String {
        let v = if self.chance(3) { Value::Null } else { self.value(k) };
        if self.chance(30) {
            self.params.push(v);
            "?".into()
        } else {
            lit(&v)
        }
    }

    fn atom(&mut self, cols: &[Col]) -> String {
        let usable: Vec<Col> = cols.iter().filter(|c| c.kind != Kind::Json).cloned().collect();
        let c = self.pick(&usable);
        match self.below(100) {
            0..=9 => format!("{} IS {}NULL", c.sql, if self.chance(50) { "NOT " } else { "" }),
            10..=59 => {
                let op = self.pick(&["=", "=", "<>", "<", "<=", ">", ">="]);
                let v = self.operand(c.kind);
                if self.chance(15) {
                    format!("{v} {} {}", flip(op), c.sql)
                } else {
                    format!("{} {op} {v}", c.sql)
                }
            }
            60..=79 => {
                let n = 1 + self.below(4);
                let vals: Vec<String> = (0..n).map(|_| self.operand(c.kind)).collect();
                format!("{} {}IN ({})", c.sql, if self.chance(20) { "NOT " } else { "" }, vals.join(", "))
            }
            _ => {
                let (a, b) = (self.operand(c.kind), self.operand(c.kind));
                format!("{} {}BETWEEN {a} AND {b}", c.sql, if self.chance(20) { "NOT " } else { "" })
            }
        }
    }

    fn pred(&mut self, cols: &[Col], depth: u32) -> String {
        if depth == 0 || self.chance(45) {
            return self.atom(cols);
        }
        match self.below(5) {
            0 => format!("NOT ({})", self.pred(cols, depth - 1)),
            1 | 2 => format!("({}) OR ({})", self.pred(cols, depth - 1), self.pred(cols, depth - 1)),
            _ => format!("{} AND {}", self.pred(cols, depth - 1), self.pred(cols, depth - 1)),
        }
    }

    /// The FROM clause and the tables it reads, with their qualifiers.
    fn from(&mut self) -> (String, Vec<(Table, Option<&'static str>)>) {
        let mut sources = Vec::new();
        if self.chance(30) {
            let child = self.pick(&[Table::Scores, Table::LatestScores, Table::Messages]);
            let on = if self.chance(50) { "x.customer_id = c.id" } else { "c.id = x.customer_id" };
            if self.chance(60) {
                sources.push((Table::Customers, Some("c")));
                sources.push((child, Some("x")));
                (format!("customers c JOIN {} x ON {on}", child.name()), sources)
            } else {
                sources.push((child, Some("x")));
                sources.push((Table::Customers, Some("c")));
                (format!("{} x INNER JOIN customers c ON {on}", child.name()), sources)
            }
        } else {
            let t = self.pick(&Table::ALL);
            let alias = if self.chance(30) { Some("t") } else { None };
            sources.push((t, alias));
            match alias {
                Some(a) => (format!("{} {a}", t.name()), sources),
                None => (t.name().to_string(), sources),
            }
        }
    }

    pub fn query(&mut self) -> GenQuery {
        self.params.clear();
        let (from_sql, sources) = self.from();
        let join = sources.len() == 2;
        let mut cols = Vec::new();
        for (t, alias) in &sources {
            for c in t.columns() {
                let sql = match alias {
                    Some(a) if join || self.chance(50) => format!("{a}.{}", c.name),
                    _ => c.name.to_string(),
                };
                cols.push(Col { sql, kind: kind(*t, c.name) });
            }
        }
        let aggregate = self.chance(30);
        let mut outputs: Vec<String> = Vec::new();
        let mut aliases: Vec<Option<String>> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        let mut star = false;
        let plain: Vec<Col> = cols.iter().filter(|c| c.kind != Kind::Json).cloned().collect();
        if aggregate {
            for _ in 0..self.below(3) {
                let c = self.pick(&plain);
                if !group.contains(&c.sql) {
                    group.push(c.sql.clone());
                }
            }
            outputs.extend(group.iter().cloned());
            let num: Vec<Col> = plain.iter().filter(|c| c.kind.numeric()).cloned().collect();
            for _ in 0..1 + self.below(3) {
                let a = match self.below(7) {
                    0 => "COUNT(*)".to_string(),
                    1 => format!("COUNT({})", self.pick(&plain).sql),
                    2 => format!("SUM({})", self.pick(&num).sql),
                    3 => format!("AVG({})", self.pick(&num).sql),
                    4 => format!("MIN({})", self.pick(&plain).sql),
                    5 => "COUNT(1)".to_string(),
                    _ => format!("MAX({})", self.pick(&plain).sql),
                };
                outputs.push(a);
            }
            if self.chance(50) {
                let k = outputs.len();
                let (i, j) = (self.below(k), self.below(k));
                outputs.swap(i, j);
            }
            aliases = outputs.iter().map(|_| None).collect();
        } else if self.chance(15) {
            star = true;
            for c in &cols {
                outputs.push(c.sql.clone());
                aliases.push(None);
            }
        } else {
            for _ in 0..1 + self.below(4) {
                let o = match self.below(20) {
                    0 => self.below(100).to_string(),
                    1 => quote(&format!("k{}", self.below(3))),
                    _ => self.pick(&cols).sql,
                };
                outputs.push(o);
                aliases.push(None);
            }
        }
        for (i, a) in aliases.iter_mut().enumerate() {
            if !star && self.u.int_in_range(0..=99).unwrap_or(99) < 20 {
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
        // Parameters in the select list would come before those of WHERE; keep it simple.
        let mut sql = format!("SELECT {select_sql} FROM {from_sql}");
        if self.chance(75) {
            let p = self.pred(&cols, 3);
            sql.push_str(&format!(" WHERE {p}"));
        }
        if !group.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        }
        let mut keys: Vec<String> = Vec::new();
        let mut order_outputs = Vec::new();
        for _ in 0..self.below(4) {
            let desc = self.chance(40);
            let nulls = match self.below(6) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            let nulls_first = nulls.unwrap_or(!desc);
            let (key, out) = if aggregate || self.chance(50) {
                let i = self.below(outputs.len());
                // A constant written out as a key would be an ordinal (digits) or a no-op
                // (text): constants are always ordered by their ordinal.
                let constant = outputs[i].starts_with(|c: char| c.is_ascii_digit() || c == '\'');
                let k = match (&aliases[i], self.below(3)) {
                    (Some(a), 0) => a.clone(),
                    (_, 1) if !constant => outputs[i].clone(),
                    _ => (i + 1).to_string(),
                };
                (k, Some(i))
            } else {
                (self.pick(&cols).sql, None)
            };
            let mut k = format!("{key}{}", if desc { " DESC" } else if self.chance(30) { " ASC" } else { "" });
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
        let limit = self.chance(35);
        if limit {
            for i in 0..outputs.len() {
                keys.push((i + 1).to_string());
            }
        }
        if !keys.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        if limit {
            let n = if self.chance(10) { -1 } else { self.below(20) as i64 };
            if self.chance(30) {
                self.params.push(Value::Int(n));
                sql.push_str(" LIMIT ?");
            } else {
                sql.push_str(&format!(" LIMIT {n}"));
            }
            if self.chance(50) {
                sql.push_str(&format!(" OFFSET {}", self.below(6)));
            }
        }
        GenQuery { sql, params: self.params.clone(), order: OrderSpec { total: limit, outputs: order_outputs } }
    }
}
