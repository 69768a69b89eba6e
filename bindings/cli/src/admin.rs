//! The commands that query and watch a database: `sql`, `explain`, `stats`, `top`,
//! `advise`, `health` and `optimize`. Each opens the directory (taking its lock), does its
//! one thing through the public `cidb` API and closes it; the monitor's statement table is
//! saved at close, so `top` and `advise` see what earlier `sql` runs (and applications
//! using the same directory) executed.

use crate::table::{cell, render};
use cidb::{Engine, Error, ErrorKind, Result, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where to find the database and which tenant to act for.
#[derive(clap::Args, Clone)]
pub struct DbArgs {
    /// Database directory (default: $CIDB_DIR or ~/.local/share/cidb/demo).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Tenant (default: $CIDB_TENANT or tenant_0, the demo's first tenant).
    #[arg(long)]
    pub tenant: Option<String>,
}

impl DbArgs {
    fn open(&self) -> Result<Engine> {
        let (cfg, _) = crate::effective_config(None, None)?;
        Engine::open(self.dir.clone().unwrap_or_else(crate::demo::default_dir), cfg)
    }

    fn tenant_name(&self) -> String {
        self.tenant.clone().or_else(|| std::env::var("CIDB_TENANT").ok()).unwrap_or_else(|| "tenant_0".into())
    }
}

/// Runs `f` on an open engine and closes it whatever happened.
fn with_engine<T>(db: &DbArgs, f: impl FnOnce(&Engine) -> Result<T>) -> Result<T> {
    let e = db.open()?;
    let r = f(&e);
    let closed = e.close();
    let v = r?;
    closed?;
    Ok(v)
}

/// Parses `--param` values: `int:`, `real:`, `text:`, `json:` prefixes force a type;
/// otherwise `null`, integers and decimals are recognised and the rest is text.
pub fn parse_param(s: &str) -> Result<Value> {
    let bad = |what: &str| Error::new(ErrorKind::InvalidParameter, format!("--param {s:?} is not {what}"));
    if let Some((ty, v)) = s.split_once(':') {
        match ty {
            "int" => return v.parse().map(Value::Int).map_err(|_| bad("an integer")),
            "real" => return v.parse().map(Value::Real).map_err(|_| bad("a number")),
            "text" => return Ok(Value::Text(v.to_string())),
            "json" => {
                serde_json::from_str::<serde_json::Value>(v).map_err(|_| bad("JSON"))?;
                return Ok(Value::Json(v.to_string()));
            }
            _ => {}
        }
    }
    if s.eq_ignore_ascii_case("null") {
        return Ok(Value::Null);
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    if let Ok(r) = s.parse::<f64>() {
        if r.is_finite() && s.contains(['.', 'e', 'E']) {
            return Ok(Value::Real(r));
        }
    }
    Ok(Value::Text(s.to_string()))
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => (*i).into(),
        Value::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Text(s) => s.clone().into(),
        Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| s.clone().into()),
    }
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// `cidb sql`.
#[derive(clap::Args)]
pub struct SqlArgs {
    #[command(flatten)]
    db: DbArgs,
    /// A parameter value for the next `?` (repeatable; `int:`, `real:`, `text:`, `json:`
    /// force a type).
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Print rows as JSON objects.
    #[arg(long)]
    json: bool,
    /// The statement (SELECT, EXPLAIN, CREATE INDEX, DROP INDEX, ANALYZE).
    sql: String,
}

pub fn sql(a: SqlArgs) -> Result<ExitCode> {
    let params: Vec<Value> = a.params.iter().map(|p| parse_param(p)).collect::<Result<_>>()?;
    with_engine(&a.db, |e| {
        let r = e.tenant(&a.db.tenant_name())?.query(&a.sql, &params)?;
        if a.json {
            let rows: Vec<serde_json::Value> = r
                .rows
                .iter()
                .map(|row| serde_json::Value::Object(r.columns.iter().cloned().zip(row.iter().map(json_value)).collect()))
                .collect();
            print_json(&serde_json::json!({ "columns": r.columns, "rows": rows, "stats": r.stats }));
            return Ok(ExitCode::SUCCESS);
        }
        if !r.columns.is_empty() {
            let rows: Vec<Vec<String>> = r.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
            print!("{}", render(&r.columns, &rows));
        }
        let s = &r.stats;
        let how = if s.from_cache { "from the result cache".to_string() } else { format!("{} examined", s.rows_examined) };
        println!("({} rows, {how}, {:.3} ms)", r.rows.len(), s.elapsed_ns as f64 / 1e6);
        Ok(ExitCode::SUCCESS)
    })
}

/// `cidb explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Run the query and report actual rows, rows examined and time per step.
    #[arg(long)]
    analyze: bool,
    /// Parameter values, as for `cidb sql`.
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// The SELECT to explain.
    sql: String,
}

pub fn explain(a: ExplainArgs) -> Result<ExitCode> {
    let params: Vec<Value> = a.params.iter().map(|p| parse_param(p)).collect::<Result<_>>()?;
    with_engine(&a.db, |e| {
        let x = e.tenant(&a.db.tenant_name())?.explain(&a.sql, &params, a.analyze)?;
        if a.json {
            print_json(&x.to_json());
        } else {
            println!("{}", x.text());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `cidb stats`.
#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Prometheus text exposition instead of JSON.
    #[arg(long)]
    prometheus: bool,
}

pub fn stats(a: StatsArgs) -> Result<ExitCode> {
    with_engine(&a.db, |e| {
        if a.prometheus {
            print!("{}", e.metrics_prometheus()?);
        } else {
            print_json(&e.metrics()?);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `cidb top`.
#[derive(clap::Args)]
pub struct TopArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Fingerprints to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The top-fingerprints table of `cidb top`.
pub fn top_table(e: &Engine, n: usize) -> String {
    let header: Vec<String> = ["calls", "errors", "total_ms", "mean_ms", "p95_ms", "examined/call", "returned/call", "scans", "query"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = e
        .monitor()
        .top(n)
        .iter()
        .map(|f| {
            let per = |x: u64| format!("{:.1}", x as f64 / f.calls.max(1) as f64);
            vec![
                f.calls.to_string(),
                f.errors.to_string(),
                format!("{:.2}", f.total_ms),
                format!("{:.3}", f.mean_ms),
                format!("{:.3}", f.p95_ms),
                per(f.rows_examined),
                per(f.rows_returned),
                format!("{}i/{}t", f.index_scans, f.table_scans),
                f.query.clone(),
            ]
        })
        .collect();
    render(&header, &rows)
}

pub fn top(a: TopArgs) -> Result<ExitCode> {
    with_engine(&a.db, |e| {
        if a.json {
            print_json(&e.monitor().top(a.limit));
        } else if e.monitor().top(1).is_empty() {
            println!("no statements recorded yet");
        } else {
            print!("{}", top_table(e, a.limit));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `cidb advise`.
#[derive(clap::Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Build the recommendations whose gain is at least --min-gain (online).
    #[arg(long)]
    apply: bool,
    /// Least gain (fraction of the helped queries' estimated cost saved) to recommend.
    #[arg(long, default_value_t = 0.5)]
    min_gain: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The advisor's report as text, with the plans before and after (`cidb advise`).
pub fn advice_text(a: &cidb::Advice) -> String {
    let mut out = String::new();
    if a.recommendations.is_empty() {
        out.push_str(&format!("no index recommendations ({} recorded queries considered)\n", a.queries_considered));
    }
    for r in &a.recommendations {
        out.push_str(&format!(
            "{};\n  gain {:.1} % (estimated cost {:.0} -> {:.0} over the calls of {} quer{})\n",
            r.create_sql,
            r.gain * 100.0,
            r.cost_before,
            r.cost_after,
            r.queries.len(),
            if r.queries.len() == 1 { "y" } else { "ies" }
        ));
        for q in &r.queries {
            out.push_str(&format!("    {} calls, cost {:.1} -> {:.1}: {}\n", q.calls, q.cost_before, q.cost_after, q.query));
            out.push_str(&format!("      before: {}\n      after:  {}\n", q.plan_before, q.plan_after));
        }
    }
    for f in &a.unindexed_foreign_keys {
        out.push_str(&format!("foreign key {}.{} -> {} has no usable index: {};\n", f.table, f.column, f.references, f.create_sql));
    }
    for u in &a.unused_indexes {
        out.push_str(&format!(
            "unused index {} on {} ({} entries{}): {};\n",
            u.name,
            u.table,
            u.entries,
            if u.unique { ", UNIQUE: it enforces a constraint" } else { "" },
            u.drop_sql
        ));
    }
    out
}

pub fn advise(a: AdviseArgs) -> Result<ExitCode> {
    with_engine(&a.db, |e| {
        let opts = cidb::AdviceOptions { min_gain: a.min_gain, ..Default::default() };
        let advice = e.advise_with(&opts)?;
        if a.json && !a.apply {
            print_json(&advice);
            return Ok(ExitCode::SUCCESS);
        }
        if !a.json {
            print!("{}", advice_text(&advice));
        }
        if a.apply {
            let mut built = Vec::new();
            for r in advice.recommendations.iter().filter(|r| r.gain >= a.min_gain) {
                e.apply_recommendation(r)?;
                if !a.json {
                    println!("built {}", r.name);
                }
                built.push(r.clone());
            }
            if a.json {
                print_json(&serde_json::json!({ "advice": advice, "applied": built }));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `cidb health`.
#[derive(clap::Args)]
pub struct HealthArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn health(a: HealthArgs) -> Result<ExitCode> {
    with_engine(&a.db, |e| {
        let h = e.health()?;
        if a.json {
            print_json(&h);
        } else {
            println!("status: {}", serde_json::to_value(h.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default());
            println!("storage writable: {}", h.storage_writable);
            println!("breaker: {:?}", h.breaker.state);
            println!("cache tiers open: {}", h.cache_open);
            let bad = h.indexes.iter().filter(|c| !c.is_consistent()).count();
            println!("indexes sampled: {} ({} inconsistent)", h.indexes.len(), bad);
            println!("active alerts: {}", h.active_alerts.len());
            for p in &h.problems {
                println!("  - {p}");
            }
        }
        Ok(if h.healthy { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// `cidb optimize`.
#[derive(clap::Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Least gain (fraction of the helped queries' estimated cost saved) to build an index.
    #[arg(long, default_value_t = 0.5)]
    min_gain: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn optimize(a: OptimizeArgs) -> Result<ExitCode> {
    with_engine(&a.db, |e| {
        let r = e.optimize(a.min_gain)?;
        if a.json {
            print_json(&r);
            return Ok(ExitCode::SUCCESS);
        }
        println!("ANALYZE: {:.1} ms", r.analyze_ms);
        for x in &r.applied {
            println!("built {} (gain {:.1} %): {}", x.name, x.gain * 100.0, x.create_sql);
        }
        for x in &r.skipped {
            println!("skipped {} (gain {:.1} % < {:.1} %)", x.name, x.gain * 100.0, a.min_gain * 100.0);
        }
        for f in &r.failed {
            println!("failed {}: {}", f.recommendation.name, f.error);
        }
        if r.applied.is_empty() && r.skipped.is_empty() && r.failed.is_empty() {
            println!("no index to build");
        }
        for f in &r.unindexed_foreign_keys {
            println!("note: foreign key {}.{} has no usable index ({})", f.table, f.column, f.create_sql);
        }
        for u in &r.unused_indexes {
            println!("note: index {} on {} was not used by any recorded statement", u.name, u.table);
        }
        println!("cache warmed: {} entries", r.warmed);
        println!("done in {:.1} ms", r.elapsed_ms);
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_by_shape_or_prefix() {
        assert_eq!(parse_param("42").unwrap(), Value::Int(42));
        assert_eq!(parse_param("0.5").unwrap(), Value::Real(0.5));
        assert_eq!(parse_param("NULL").unwrap(), Value::Null);
        assert_eq!(parse_param("sales").unwrap(), Value::Text("sales".into()));
        assert_eq!(parse_param("text:42").unwrap(), Value::Text("42".into()));
        assert_eq!(parse_param("real:1").unwrap(), Value::Real(1.0));
        assert_eq!(parse_param("json:{\"a\":1}").unwrap(), Value::Json("{\"a\":1}".into()));
        assert_eq!(parse_param("int:x").unwrap_err().kind(), ErrorKind::InvalidParameter);
        assert_eq!(parse_param("a:b").unwrap(), Value::Text("a:b".into()));
        assert_eq!(parse_param("inf").unwrap(), Value::Text("inf".into()));
    }
}
