//! Access paths for one table of a query: a full scan of the tenant's rows, a search of the
//! primary key, or a search of a secondary index (equality on a key prefix, IN-lists as
//! several seeks, one range column, NULL tests; partial indexes only when the WHERE clause
//! implies their predicate). Each candidate gets estimated rows and a cost; the planner
//! picks among them together with ORDER BY and LIMIT.

use super::cost::{fetch_cost, prefix_rows, StatsView, KEY_DECODE, LOOKUP, SEEK, STEP_INDEX, STEP_ROW};
use super::terms::{
    guarded_implication, implies_predicate, sargable, selectivity, Guard, Term, TermKind,
};
use crate::error::Result;
use crate::index::def::IndexDef;
use crate::index::stats::{pk_layout, PkPart};
use crate::schema::Table;
use crate::sql::bind::{mark_pred, BoundSelect, Pred, Scalar, Slot};
use std::sync::Arc;

/// Which structure an access reads.
#[derive(Debug, Clone, PartialEq)]
pub enum PathKind {
    /// Every row of the tenant, in primary-key order.
    Scan,
    /// The primary key.
    Pk,
    /// A secondary index (`true` when hypothetical: costed, never executed).
    Index(Arc<IndexDef>, bool),
}

/// The values one key column is searched for.
#[derive(Debug, Clone, PartialEq)]
pub enum EqVals {
    /// One value.
    One(Scalar),
    /// Several values (IN): one seek each, in key order.
    List(Vec<Scalar>),
    /// `IS NULL`.
    Null,
    /// The current row of the outer side of a join (nested-loop probe).
    Outer(Slot),
}

/// Bounds on the column after the equality prefix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeSpec {
    /// Lower bounds (value, inclusive); the tightest applies.
    pub lower: Vec<(Scalar, bool)>,
    /// Upper bounds (value, inclusive).
    pub upper: Vec<(Scalar, bool)>,
}

/// One way to read one table of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPlan {
    /// Index of the source in the query.
    pub source: usize,
    /// The table.
    pub table: Table,
    /// The structure read.
    pub kind: PathKind,
    /// Table columns of the key, in order (for an index: its columns, then the pk's).
    pub key_cols: Vec<usize>,
    /// Equality values for `key_cols[..eq.len()]`.
    pub eq: Vec<EqVals>,
    /// Range on `key_cols[eq.len()]`.
    pub range: Option<RangeSpec>,
    /// The equality prefix is the whole unique primary key: point lookups.
    pub point: bool,
    /// Iterate backwards (ORDER BY ... DESC).
    pub reverse: bool,
    /// Every needed column comes from the index key: no table lookups.
    pub covering: bool,
    /// Local conjuncts the key does not enforce.
    pub filter: Vec<Pred>,
    /// Rows produced (after the filter), per execution.
    pub est_rows: f64,
    /// Entries and rows visited, per execution.
    pub est_examined: f64,
    /// Cost per execution.
    pub cost: f64,
    /// Run-time conditions for a partial index whose predicate only the bound values imply.
    pub guards: Vec<Guard>,
}

impl AccessPlan {
    /// Number of key columns the index itself has (excluding the pk columns appended).
    pub fn index_cols(&self) -> usize {
        match &self.kind {
            PathKind::Index(d, _) => d.columns.len(),
            _ => self.key_cols.len(),
        }
    }

    /// The index, if this reads one.
    pub fn index(&self) -> Option<&Arc<IndexDef>> {
        match &self.kind {
            PathKind::Index(d, _) => Some(d),
            _ => None,
        }
    }
}

/// Table columns of the primary key (the hidden score sequence excluded).
pub fn pk_cols(t: Table) -> Vec<usize> {
    pk_layout(t)
        .iter()
        .filter_map(|p| match p {
            PkPart::Str(c) | PkPart::I64(c) | PkPart::U64(c) => Some(*c),
            PkPart::Seq => None,
        })
        .collect()
}

/// True when `p` reads no column of the combined row (`width` slots) but the tenant_id
/// column of `table` at `offset`. Such a conjunct is constant for a statement: a tenant
/// handle only ever reads its own tenant's rows (the tenant is the key prefix), so the
/// executor evaluates it once instead of per row, and it filters out no row on its own.
pub fn tenant_only(p: &Pred, table: Table, offset: Slot, width: usize) -> bool {
    let Some(t) = table.column_index("tenant_id") else { return false };
    let mut m = vec![false; width];
    mark_pred(p, &mut m);
    m.iter().enumerate().all(|(i, b)| !*b || i == offset + t) && m.get(offset + t).copied().unwrap_or(false)
}

/// Estimated fraction of rows `p` keeps (a tenant-only conjunct keeps them all).
fn filter_selectivity(p: &Pred, info: &SourceInfo) -> f64 {
    if tenant_only(p, info.table, info.offset, info.row_width) {
        1.0
    } else {
        selectivity(p)
    }
}

/// Whether equality on every pk column identifies one row.
fn pk_unique(t: Table) -> bool {
    !matches!(t, Table::Scores)
}

/// Everything the planner knows about one source before choosing its access.
pub struct SourceInfo {
    /// Index of the source.
    pub source: usize,
    /// The table.
    pub table: Table,
    /// First slot.
    pub offset: Slot,
    /// Conjuncts over this source only.
    pub local: Vec<Pred>,
    /// Their sargable terms.
    pub terms: Vec<Term>,
    /// Needed table columns.
    pub need: Vec<bool>,
    /// Columns known non-NULL because they are join keys.
    pub not_null: Vec<usize>,
    /// Width of the combined row.
    pub row_width: usize,
}

impl SourceInfo {
    /// Collects what the query says about source `si`, given the conjuncts that touch only it.
    pub fn new(sel: &BoundSelect, si: usize, local: Vec<Pred>) -> SourceInfo {
        let s = &sel.sources[si];
        let width = s.table.columns().len();
        let terms = sargable(&local, s.offset, width);
        let need = sel.needed[s.offset..s.offset + width].to_vec();
        let not_null = match &sel.join {
            Some(j) if j.customers == si => vec![j.id_slot - s.offset],
            Some(j) => vec![j.fk_slot - s.offset],
            None => vec![],
        };
        SourceInfo {
            source: si,
            table: s.table,
            offset: s.offset,
            local,
            terms,
            need,
            not_null,
            row_width: sel.width,
        }
    }
}

/// Builds the access through `kind`, with `outer` = (table column, outer slot) when the
/// access is the inner side of a nested-loop join.
pub fn build(
    info: &SourceInfo,
    kind: PathKind,
    outer: Option<(usize, Slot)>,
    allow_guards: bool,
    stats: &mut StatsView,
) -> Result<Option<AccessPlan>> {
    let table = info.table;
    let pkc = pk_cols(table);
    let mut guards = Vec::new();
    let (key_cols, matchable) = match &kind {
        PathKind::Scan => (pkc.clone(), 0),
        PathKind::Pk => (pkc.clone(), pkc.len()),
        PathKind::Index(d, _) => {
            if !implies_predicate(&info.terms, &info.not_null, d) {
                match guarded_implication(&info.terms, &info.not_null, d) {
                    Some(g) if allow_guards => guards = g,
                    _ => return Ok(None),
                }
            }
            let mut k = d.columns.clone();
            k.extend(pkc.iter().copied());
            (k, d.columns.len())
        }
    };
    let mut consumed = vec![false; info.local.len()];
    let mut eq = Vec::new();
    let mut mult = 1.0f64;
    for &col in &key_cols[..matchable] {
        if let Some((c, slot)) = outer {
            if c == col {
                eq.push(EqVals::Outer(slot));
                continue;
            }
        }
        let pick = info
            .terms
            .iter()
            .find(|t| t.col == col && matches!(t.kind, TermKind::Eq(_)))
            .or_else(|| {
                info.terms
                    .iter()
                    .find(|t| t.col == col && matches!(t.kind, TermKind::In(_)))
            })
            .or_else(|| {
                info.terms
                    .iter()
                    .find(|t| t.col == col && t.kind == TermKind::IsNull)
            });
        let Some(t) = pick else { break };
        consumed[t.conj] = true;
        eq.push(match &t.kind {
            TermKind::Eq(s) => EqVals::One(s.clone()),
            TermKind::In(l) => {
                mult *= l.len() as f64;
                EqVals::List(l.clone())
            }
            _ => EqVals::Null,
        });
    }
    let mut range = None;
    let mut range_factor = 1.0;
    if eq.len() < matchable {
        let col = key_cols[eq.len()];
        let mut r = RangeSpec::default();
        let mut not_null = false;
        for t in info.terms.iter().filter(|t| t.col == col) {
            match &t.kind {
                TermKind::Lower(s, incl) => r.lower.push((s.clone(), *incl)),
                TermKind::Upper(s, incl) => r.upper.push((s.clone(), *incl)),
                TermKind::NotNull => not_null = true,
                _ => continue,
            }
            consumed[t.conj] = true;
        }
        // A BETWEEN whose two halves were both taken is consumed; one taken half alone
        // never happens because both halves are on the same column.
        if !r.lower.is_empty() || !r.upper.is_empty() || not_null {
            range_factor = match (r.lower.is_empty(), r.upper.is_empty()) {
                (false, false) => 0.1,
                (true, true) => 0.9,
                _ => 0.3,
            };
            range = Some(r);
        }
    }
    if kind == PathKind::Pk && eq.is_empty() && range.is_none() {
        return Ok(None); // the same as a scan
    }
    let mut filter: Vec<Pred> = info
        .local
        .iter()
        .zip(&consumed)
        .filter(|(_, c)| !**c)
        .map(|(p, _)| p.clone())
        .collect();
    if let Some((col, slot)) = outer {
        // A probe whose key does not start with the join column checks it row by row.
        if !eq.iter().any(|e| matches!(e, EqVals::Outer(_))) {
            filter.push(Pred::Cmp(
                crate::sql::ast::CmpOp::Eq,
                Scalar::Col(info.offset + col),
                Scalar::Col(slot),
            ));
        }
    }
    let point = kind == PathKind::Pk && pk_unique(table) && eq.len() == pkc.len();

    // Covering: everything needed is in the index key (its columns, the pk, the tenant).
    let tenant_col = table.column_index("tenant_id");
    let from_key = |c: usize| key_cols.contains(&c) || Some(c) == tenant_col;
    let covering = matches!(kind, PathKind::Index(..))
        && (0..info.need.len()).all(|c| !info.need[c] || from_key(c));

    // Estimates.
    let (n, total) = stats.rows(table)?;
    let n = n as f64;
    let filter_sel: f64 = filter.iter().map(|p| filter_selectivity(p, info)).product();
    let (examined, cost) = match &kind {
        PathKind::Scan => (n, SEEK + n * STEP_ROW),
        PathKind::Pk => {
            let rows = if point {
                mult
            } else {
                (pk_prefix_rows(table, eq.len(), n, stats)? * mult * range_factor).min(n.max(1.0))
            };
            let cost = if point {
                mult * LOOKUP
            } else {
                mult * SEEK + rows * STEP_ROW
            };
            (rows, cost)
        }
        PathKind::Index(d, hypo) => {
            let st = stats.index(d, *hypo)?;
            let tenant_entries = if total > 0 {
                st.entries as f64 * n / total as f64
            } else {
                0.0
            };
            let rows = (prefix_rows(&st, eq.len(), tenant_entries) * mult * range_factor)
                .min(tenant_entries.max(1.0));
            // Conjuncts over key columns are checked on the entry before the lookup.
            let key_sel: f64 = filter
                .iter()
                .filter(|p| {
                    let mut m = vec![false; info.row_width];
                    mark_pred(p, &mut m);
                    (0..table.columns().len()).all(|c| !m[info.offset + c] || from_key(c))
                })
                .map(|p| filter_selectivity(p, info))
                .product();
            let in_pk_order = eq.len() == d.columns.len();
            let fetch = if covering {
                rows * KEY_DECODE
            } else {
                fetch_cost(rows * key_sel, in_pk_order)
            };
            (rows, mult * SEEK + rows * STEP_INDEX + fetch)
        }
    };
    Ok(Some(AccessPlan {
        source: info.source,
        table,
        kind,
        key_cols,
        eq,
        range,
        point,
        reverse: false,
        covering,
        filter,
        est_rows: (examined * filter_sel).max(if examined > 0.0 { 0.01 } else { 0.0 }),
        est_examined: examined,
        cost,
        guards,
    }))
}

/// Rows per primary-key prefix of `k` columns within the tenant.
fn pk_prefix_rows(t: Table, k: usize, n: f64, stats: &mut StatsView) -> Result<f64> {
    let st = stats.pk(t)?;
    if st.distinct.get(k).is_some_and(|&d| d > 0) {
        let (_, total) = stats.rows(t)?;
        let tenant_entries = if total > 0 { n } else { 0.0 };
        return Ok(prefix_rows(&st, k, tenant_entries));
    }
    // Without ANALYZE: child tables are keyed by customer first.
    if k == 0 {
        return Ok(n);
    }
    let customers = stats.rows(Table::Customers)?.0.max(1) as f64;
    let per_customer = (n / customers).max(1.0);
    Ok(match (t, k) {
        (Table::Scores, 1) | (Table::LatestScores, 1) => per_customer,
        (Table::Scores, 2) => (per_customer / 3.0).max(1.0),
        _ => 1.0,
    })
}

/// ORDER BY as table columns of one source: (column, desc, nulls_first).
pub type OrderCols = Vec<(usize, bool, bool)>;

/// Whether `acc` returns rows already in `order`; Some(reverse) when it does.
pub fn provides_order(acc: &AccessPlan, info: &SourceInfo, order: &OrderCols) -> Option<bool> {
    let constant = |c: usize| {
        acc.eq
            .iter()
            .zip(&acc.key_cols)
            .any(|(e, k)| *k == c && !matches!(e, EqVals::List(_)))
            || info
                .terms
                .iter()
                .any(|t| t.col == c && matches!(t.kind, TermKind::Eq(_) | TermKind::IsNull))
    };
    let mut dir: Option<bool> = None;
    let mut p = 0;
    for &(col, desc, nulls_first) in order {
        if constant(col) {
            continue;
        }
        // Keys sort NULL first; iterating backwards puts them last, as SQLite's DESC does.
        if nulls_first == desc {
            return None;
        }
        while p < acc.key_cols.len() && constant(acc.key_cols[p]) && acc.key_cols[p] != col {
            p += 1;
        }
        if p >= acc.key_cols.len() || acc.key_cols[p] != col {
            return None;
        }
        // Index order continues into the pk only when the index itself is fully walked.
        if dir.is_some_and(|d| d != desc) {
            return None;
        }
        dir = Some(desc);
        p += 1;
    }
    Some(dir.unwrap_or(false))
}
