//! Index definitions: which table and columns, UNIQUE, the partial-index predicate (including
//! the sliding window `col > CURRENT_TIMESTAMP - INTERVAL 'N days'`), and the encoding of an
//! index entry: `tenant ++ Key::value(col)... ++ pk bytes`. A definition is stored as its
//! canonical CREATE INDEX text and re-parsed at load, so the catalog has one format.

use crate::error::{err, ErrorKind, Result};
use crate::schema::{ColumnType, Table, Value};
use crate::sql::ast::{CmpOp, CreateIndex, Expr};
use crate::sql::unsupported;
use crate::storage::keys::Key;

/// Whether an index is being built or usable by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IndexState {
    /// Maintained on every write, backfill in progress; invisible to the planner.
    Building,
    /// Complete and consistent; the planner may use it.
    Ready,
}

/// One conjunct of a partial-index predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum PredTerm {
    /// `col IS NULL` / `col IS NOT NULL` (negated).
    IsNull {
        /// Column position.
        col: usize,
        /// True for IS NOT NULL.
        negated: bool,
    },
    /// `col op constant`.
    Cmp {
        /// Column position.
        col: usize,
        /// Operator.
        op: CmpOp,
        /// Constant.
        value: Value,
    },
    /// `col > CURRENT_TIMESTAMP - window_ms` (or `>=`): the sliding window.
    Window {
        /// Column position.
        col: usize,
        /// Inclusive (`>=`) or not.
        inclusive: bool,
        /// Window length in ms.
        ms: i64,
    },
}

impl PredTerm {
    /// True when `row` satisfies the term at time `now`.
    pub fn holds(&self, row: &[Value], now: i64) -> bool {
        match self {
            PredTerm::IsNull { col, negated } => row[*col].is_null() != *negated,
            PredTerm::Cmp { col, op, value } => {
                !row[*col].is_null() && !value.is_null() && op.holds(row[*col].sql_cmp(value))
            }
            PredTerm::Window { col, inclusive, ms } => match &row[*col] {
                Value::Int(t) => {
                    let cut = now.saturating_sub(*ms);
                    if *inclusive {
                        *t >= cut
                    } else {
                        *t > cut
                    }
                }
                _ => false,
            },
        }
    }

    /// The column the term constrains.
    pub fn col(&self) -> usize {
        match self {
            PredTerm::IsNull { col, .. }
            | PredTerm::Cmp { col, .. }
            | PredTerm::Window { col, .. } => *col,
        }
    }
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// Internal id (names the redb table `ix_<id>`).
    pub id: u32,
    /// Name (unique in the database, case-insensitive).
    pub name: String,
    /// Table indexed.
    pub table: Table,
    /// Column positions, in key order.
    pub columns: Vec<usize>,
    /// UNIQUE.
    pub unique: bool,
    /// Partial-index predicate (conjunction); empty for a full index.
    pub predicate: Vec<PredTerm>,
    /// The predicate as SQL text.
    pub predicate_sql: Option<String>,
    /// Building or ready.
    pub state: IndexState,
}

fn class(t: ColumnType) -> u8 {
    match t {
        ColumnType::Int | ColumnType::Real => 0,
        ColumnType::Text | ColumnType::Json => 1,
    }
}

/// The type class of a value (numbers 0, text 1, NULL None).
pub(crate) fn value_class(v: &Value) -> Option<u8> {
    match v {
        Value::Null => None,
        Value::Int(_) | Value::Real(_) => Some(0),
        Value::Text(_) | Value::Json(_) => Some(1),
    }
}

impl IndexDef {
    /// Resolves a parsed CREATE INDEX against the schema.
    pub fn from_create(ci: &CreateIndex, id: u32) -> Result<IndexDef> {
        let table = Table::from_name(&ci.table.name).ok_or_else(|| {
            err(
                ErrorKind::UnknownTable,
                format!("no such table: {} (at {})", ci.table.name, ci.table.pos),
            )
        })?;
        if ci.columns.is_empty() {
            return Err(err(
                ErrorKind::InvalidInput,
                "an index needs at least one column",
            ));
        }
        let mut columns = Vec::new();
        for (c, pos) in &ci.columns {
            let i = table.column_index(c).ok_or_else(|| {
                err(
                    ErrorKind::UnknownColumn,
                    format!("no such column: {}.{c} (at {pos})", table.name()),
                )
            })?;
            if columns.contains(&i) {
                return Err(err(
                    ErrorKind::InvalidInput,
                    format!("column {c} appears twice in the index (at {pos})"),
                ));
            }
            columns.push(i);
        }
        if columns.len() > 16 {
            return Err(err(
                ErrorKind::InvalidInput,
                "an index may have at most 16 columns",
            ));
        }
        let mut predicate = Vec::new();
        if let Some(p) = &ci.predicate {
            pred_terms(table, p, &mut predicate)?;
        }
        Ok(IndexDef {
            id,
            name: ci.name.clone(),
            table,
            columns,
            unique: ci.unique,
            predicate,
            predicate_sql: ci.predicate_sql.clone(),
            state: IndexState::Building,
        })
    }

    /// The canonical CREATE INDEX text (how the definition is stored).
    pub fn create_sql(&self) -> String {
        let cols: Vec<&str> = self
            .columns
            .iter()
            .map(|&c| self.table.columns()[c].name)
            .collect();
        let mut s = format!(
            "CREATE {}INDEX {} ON {}({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table.name(),
            cols.join(", ")
        );
        if let Some(p) = &self.predicate_sql {
            s.push_str(" WHERE ");
            s.push_str(p);
        }
        s
    }

    /// The column names, in key order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|&c| self.table.columns()[c].name.to_string())
            .collect()
    }

    /// The column types, in key order.
    pub fn column_types(&self) -> Vec<ColumnType> {
        self.columns
            .iter()
            .map(|&c| self.table.columns()[c].ty)
            .collect()
    }

    /// True when `row` belongs in a partial index at time `now` (always for a full index).
    pub fn covers(&self, row: &[Value], now: i64) -> bool {
        self.predicate.iter().all(|t| t.holds(row, now))
    }

    /// The sliding window (column, inclusive, ms), if the predicate has one.
    pub fn window(&self) -> Option<(usize, bool, i64)> {
        self.predicate.iter().find_map(|t| match t {
            PredTerm::Window { col, inclusive, ms } => Some((*col, *inclusive, *ms)),
            _ => None,
        })
    }

    /// Writes the entry key of `row` into `out` (cleared first).
    pub fn entry_key(&self, tenant: &str, row: &[Value], pk: &[u8], out: &mut Key) {
        out.0.clear();
        out.str(tenant);
        for &c in &self.columns {
            out.value(&row[c]);
        }
        out.raw(pk);
    }

    /// The name of the redb table holding the entries.
    pub fn table_name(&self) -> String {
        table_name(self.id)
    }
}

/// The redb table name of index `id`.
pub fn table_name(id: u32) -> String {
    format!("ix_{id}")
}

fn pred_terms(table: Table, e: &Expr, out: &mut Vec<PredTerm>) -> Result<()> {
    let col_of = |e: &Expr| -> Result<Option<usize>> {
        match e {
            Expr::Column {
                qualifier,
                name,
                pos,
            } => {
                if let Some(q) = qualifier {
                    if !q.eq_ignore_ascii_case(table.name()) {
                        return Err(err(
                            ErrorKind::UnknownTable,
                            format!("no such table: {q} (at {pos})"),
                        ));
                    }
                }
                table.column_index(name).map(Some).ok_or_else(|| {
                    err(
                        ErrorKind::UnknownColumn,
                        format!("no such column: {}.{name} (at {pos})", table.name()),
                    )
                })
            }
            _ => Ok(None),
        }
    };
    match e {
        Expr::And(a, b) => {
            pred_terms(table, a, out)?;
            pred_terms(table, b, out)
        }
        Expr::IsNull { expr, negated } => match col_of(expr)? {
            Some(col) => {
                out.push(PredTerm::IsNull { col, negated: *negated });
                Ok(())
            }
            None => Err(unsupported("partial-index predicate other than `column IS [NOT] NULL`", expr.pos())),
        },
        Expr::Cmp { op, left, right, pos } => {
            let (col, op, other) = match (col_of(left)?, col_of(right)?) {
                (Some(c), None) => (c, *op, right.as_ref()),
                (None, Some(c)) => (c, op.flip(), left.as_ref()),
                _ => return Err(unsupported("partial-index comparison that is not `column op constant`", *pos)),
            };
            let cty = table.columns()[col].ty;
            match other {
                Expr::Literal { value, pos } => {
                    if let Some(vc) = value_class(value) {
                        if vc != class(cty) {
                            return Err(err(
                                ErrorKind::TypeMismatch,
                                format!(
                                    "{} column {} compared with {} value {value} (at {pos})",
                                    cty.sql_name(),
                                    table.columns()[col].name,
                                    value.type_name()
                                ),
                            ));
                        }
                    }
                    out.push(PredTerm::Cmp { col, op, value: value.clone() });
                    Ok(())
                }
                Expr::Now { minus_ms, pos } => {
                    if cty != ColumnType::Int {
                        return Err(err(
                            ErrorKind::TypeMismatch,
                            format!("CURRENT_TIMESTAMP compared with {} column (at {pos})", cty.sql_name()),
                        ));
                    }
                    let inclusive = match op {
                        CmpOp::Gt => false,
                        CmpOp::Ge => true,
                        _ => {
                            return Err(unsupported(
                                "a sliding window other than `column > CURRENT_TIMESTAMP - INTERVAL 'N days'`",
                                *pos,
                            ))
                        }
                    };
                    if *minus_ms <= 0 {
                        return Err(err(ErrorKind::InvalidInput, format!("the sliding window must be positive (at {pos})")));
                    }
                    out.push(PredTerm::Window { col, inclusive, ms: *minus_ms });
                    Ok(())
                }
                Expr::Param { pos, .. } => Err(unsupported("parameters in an index predicate", *pos)),
                other => Err(unsupported("partial-index comparison with a non-constant", other.pos())),
            }
        }
        other => Err(unsupported(
            "partial-index predicate other than AND of `col IS [NOT] NULL`, `col op constant` and sliding windows",
            other.pos(),
        )),
    }
}
