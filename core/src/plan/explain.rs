//! EXPLAIN and EXPLAIN ANALYZE: a plan as a tree of steps in the shape SQLite users know
//! (`SEARCH c USING INDEX idx (department=? AND status=?)`, `SCAN c`, `USE TEMP B-TREE FOR
//! ORDER BY`), each with estimated rows and cost, and after ANALYZE the actual rows, rows
//! examined, loops and time. Rendered as text lines or JSON.

use super::access::{AccessPlan, EqVals, PathKind};
use super::exec::{RunStats, StepStats};
use super::planner::{JoinMethod, Plan};
use serde_json::json;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainStep {
    /// Position in [`Explain::steps`].
    pub id: usize,
    /// Parent step, if nested.
    pub parent: Option<usize>,
    /// The SQLite-style description (`SEARCH ...`, `SCAN ...`, `USE TEMP B-TREE ...`).
    pub detail: String,
    /// Table read (SQL name), if any.
    pub table: Option<String>,
    /// Index used, if any (`PRIMARY KEY` for the primary key).
    pub index: Option<String>,
    /// Estimated rows produced (per loop for a nested-loop inner step).
    pub est_rows: f64,
    /// Estimated cost (per loop for a nested-loop inner step).
    pub est_cost: f64,
    /// Actual rows produced (ANALYZE).
    pub actual_rows: Option<u64>,
    /// Index entries and table rows read (ANALYZE).
    pub examined: Option<u64>,
    /// Times the step ran (ANALYZE).
    pub loops: Option<u64>,
    /// Time spent in the step itself, ns (ANALYZE).
    pub time_ns: Option<u64>,
}

/// A query plan, as EXPLAIN reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// The steps, parents before children.
    pub steps: Vec<ExplainStep>,
    /// Estimated rows returned.
    pub est_rows: f64,
    /// Estimated total cost.
    pub est_cost: f64,
    /// Actual rows returned (ANALYZE).
    pub actual_rows: Option<u64>,
    /// Total time (ANALYZE), ns.
    pub time_ns: Option<u64>,
}

fn conds(acc: &AccessPlan) -> String {
    let cols = acc.table.columns();
    let mut parts: Vec<String> = acc
        .eq
        .iter()
        .zip(&acc.key_cols)
        .map(|(e, c)| {
            let n = cols[*c].name;
            match e {
                EqVals::Null => format!("{n} IS NULL"),
                _ => format!("{n}=?"),
            }
        })
        .collect();
    if let Some(r) = &acc.range {
        let n = cols[acc.key_cols[acc.eq.len()]].name;
        if r.lower.is_empty() && r.upper.is_empty() {
            parts.push(format!("{n}>?"));
        }
        if !r.lower.is_empty() {
            parts.push(format!("{n}>?"));
        }
        if !r.upper.is_empty() {
            parts.push(format!("{n}<?"));
        }
    }
    parts.join(" AND ")
}

/// The SQLite-style line of one access.
pub fn access_detail(acc: &AccessPlan, name: &str) -> String {
    let c = conds(acc);
    match &acc.kind {
        PathKind::Scan => format!("SCAN {name}"),
        PathKind::Pk => format!("SEARCH {name} USING PRIMARY KEY ({c})"),
        PathKind::Index(d, hypo) => {
            let how = if acc.covering {
                "COVERING INDEX"
            } else {
                "INDEX"
            };
            let h = if *hypo { " (hypothetical)" } else { "" };
            if c.is_empty() {
                format!("SCAN {name} USING {how} {}{h}", d.name)
            } else {
                format!("SEARCH {name} USING {how} {} ({c}){h}", d.name)
            }
        }
    }
}

fn access_index(acc: &AccessPlan) -> Option<String> {
    match &acc.kind {
        PathKind::Scan => None,
        PathKind::Pk => Some("PRIMARY KEY".into()),
        PathKind::Index(d, _) => Some(d.name.clone()),
    }
}

impl Explain {
    /// Builds the explanation of `plan`, with the counters of a run when analyzed.
    pub fn new(plan: &Plan, run: Option<(&RunStats, u64, u64)>) -> Explain {
        let sel = &plan.sel;
        let mut steps = Vec::new();
        let mut push = |parent: Option<usize>,
                        detail: String,
                        acc: Option<&AccessPlan>,
                        est_rows: f64,
                        est_cost: f64,
                        st: Option<StepStats>| {
            let id = steps.len();
            steps.push(ExplainStep {
                id,
                parent,
                detail,
                table: acc.map(|a| a.table.name().to_string()),
                index: acc.and_then(access_index),
                est_rows,
                est_cost,
                actual_rows: st.map(|s| s.rows),
                examined: st.map(|s| s.examined),
                loops: st.map(|s| s.runs),
                time_ns: st.map(|s| s.time_ns),
            });
            id
        };
        let o = &plan.outer;
        let rs = run.map(|r| r.0);
        push(
            None,
            access_detail(o, &sel.sources[o.source].name),
            Some(o),
            o.est_rows,
            o.cost,
            rs.map(|r| r.outer),
        );
        if let Some(j) = &plan.join {
            let iname = &sel.sources[j.inner.source].name;
            match j.method {
                JoinMethod::NestedLoop => {
                    push(
                        None,
                        access_detail(&j.inner, iname),
                        Some(&j.inner),
                        j.inner.est_rows,
                        j.inner.cost,
                        rs.map(|r| r.inner),
                    );
                }
                JoinMethod::Hash => {
                    let detail = format!(
                        "HASH JOIN {iname} ON {} = {}",
                        sel.slot_name(j.inner_key),
                        sel.slot_name(j.outer_key)
                    );
                    let jst = rs.map(|r| StepStats {
                        rows: r.join_rows,
                        runs: 1,
                        ..Default::default()
                    });
                    let h = push(None, detail, None, j.est_rows, 0.0, jst);
                    push(
                        Some(h),
                        access_detail(&j.inner, iname),
                        Some(&j.inner),
                        j.inner.est_rows,
                        j.inner.cost,
                        rs.map(|r| r.inner),
                    );
                }
            }
        }
        if let Some(g) = &sel.group {
            if !g.keys.is_empty() {
                push(
                    None,
                    "USE TEMP B-TREE FOR GROUP BY".into(),
                    None,
                    plan.est_rows,
                    0.0,
                    None,
                );
            }
        }
        if plan.sort && !sel.order.is_empty() {
            let st = rs.map(|r| StepStats {
                rows: run.map_or(0, |x| x.1),
                runs: 1,
                time_ns: r.finish_ns,
                ..Default::default()
            });
            push(
                None,
                "USE TEMP B-TREE FOR ORDER BY".into(),
                None,
                plan.est_rows,
                0.0,
                st,
            );
        }
        Explain {
            steps,
            est_rows: plan.est_rows,
            est_cost: plan.est_cost,
            actual_rows: run.map(|r| r.1),
            time_ns: run.map(|r| r.2),
        }
    }

    /// The steps, parents before children.
    pub fn steps(&self) -> &[ExplainStep] {
        &self.steps
    }

    /// True when a step reads the index `name` (case-insensitive).
    pub fn uses_index(&self, name: &str) -> bool {
        self.steps.iter().any(|s| {
            s.index
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(name))
        })
    }

    /// True when some step scans `table` in full.
    pub fn scans(&self, table: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.table.as_deref() == Some(table) && s.index.is_none())
    }

    /// True when a sort or grouping structure is built.
    pub fn uses_temp_btree(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.detail.starts_with("USE TEMP B-TREE"))
    }

    fn suffix(s: &ExplainStep) -> String {
        let mut t = format!(
            "  [est rows={} cost={:.1}",
            fmt_rows(s.est_rows),
            s.est_cost
        );
        if let (Some(r), Some(e), Some(l)) = (s.actual_rows, s.examined, s.loops) {
            t.push_str(&format!(" | actual rows={r} examined={e} loops={l}"));
            if let Some(ns) = s.time_ns {
                t.push_str(&format!(" time={:.3}ms", ns as f64 / 1e6));
            }
        } else if let (Some(r), Some(ns)) = (s.actual_rows, s.time_ns) {
            t.push_str(&format!(" | actual rows={r} time={:.3}ms", ns as f64 / 1e6));
        }
        t.push(']');
        t
    }

    /// The plan as text lines, SQLite style.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec!["QUERY PLAN".to_string()];
        self.render(None, "", &mut out);
        if let (Some(r), Some(ns)) = (self.actual_rows, self.time_ns) {
            out.push(format!(
                "-- {r} rows in {:.3} ms (estimated {} rows, cost {:.1})",
                ns as f64 / 1e6,
                fmt_rows(self.est_rows),
                self.est_cost
            ));
        }
        out
    }

    fn render(&self, parent: Option<usize>, indent: &str, out: &mut Vec<String>) {
        let kids: Vec<&ExplainStep> = self.steps.iter().filter(|s| s.parent == parent).collect();
        for (i, s) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            out.push(format!(
                "{indent}{}{}{}",
                if last { "`--" } else { "|--" },
                s.detail,
                Self::suffix(s)
            ));
            let next = format!("{indent}{}", if last { "   " } else { "|  " });
            self.render(Some(s.id), &next, out);
        }
    }

    /// The plan as text.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// The plan as JSON: `{"plan": [steps with "children"], "est_rows", "est_cost", ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        fn node(e: &Explain, s: &ExplainStep) -> serde_json::Value {
            let kids: Vec<serde_json::Value> = e
                .steps
                .iter()
                .filter(|c| c.parent == Some(s.id))
                .map(|c| node(e, c))
                .collect();
            let mut v = json!({
                "detail": s.detail,
                "table": s.table,
                "index": s.index,
                "est_rows": s.est_rows,
                "est_cost": s.est_cost,
            });
            if let Some(r) = s.actual_rows {
                v["actual_rows"] = json!(r);
                v["examined"] = json!(s.examined);
                v["loops"] = json!(s.loops);
                v["time_ns"] = json!(s.time_ns);
            }
            if !kids.is_empty() {
                v["children"] = json!(kids);
            }
            v
        }
        let top: Vec<serde_json::Value> = self
            .steps
            .iter()
            .filter(|s| s.parent.is_none())
            .map(|s| node(self, s))
            .collect();
        let mut v = json!({ "plan": top, "est_rows": self.est_rows, "est_cost": self.est_cost });
        if let Some(r) = self.actual_rows {
            v["actual_rows"] = json!(r);
            v["time_ns"] = json!(self.time_ns);
        }
        v
    }
}

fn fmt_rows(r: f64) -> String {
    if r >= 10.0 || r == 0.0 {
        format!("{}", r.round() as u64)
    } else {
        format!("{r:.1}")
    }
}
