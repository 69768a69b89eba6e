//! The bound query model: what the binder produces and the planner consumes. Sources sit
//! side by side in one row of slots; predicates, scalars, aggregates, outputs and ORDER BY
//! keys refer to slots. No names are left to resolve and every type has been checked.

use super::ast::{AggFunc, CmpOp, Pos};
use crate::schema::{ColumnType, Table, Value};

/// A position in the combined row: sources side by side, each in its column order.
pub type Slot = usize;

/// A value in an expression: a column, a constant, a parameter or `CURRENT_TIMESTAMP - x`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A column of the combined row.
    Col(Slot),
    /// A constant.
    Const(Value),
    /// A parameter (0-based).
    Param(usize),
    /// Now minus `ms`.
    Now(i64),
}

/// A predicate over the combined row (NOT already pushed into the leaves).
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    /// `a op b`.
    Cmp(CmpOp, Scalar, Scalar),
    /// `x [NOT] IN (...)`.
    In {
        /// Operand.
        x: Scalar,
        /// List.
        list: Vec<Scalar>,
        /// NOT IN.
        negated: bool,
    },
    /// `x [NOT] BETWEEN lo AND hi`.
    Between {
        /// Operand.
        x: Scalar,
        /// Low bound.
        lo: Scalar,
        /// High bound.
        hi: Scalar,
        /// NOT BETWEEN.
        negated: bool,
    },
    /// `x IS [NOT] NULL`.
    IsNull {
        /// Operand.
        x: Scalar,
        /// IS NOT NULL.
        negated: bool,
    },
    /// Conjunction.
    And(Vec<Pred>),
    /// Disjunction.
    Or(Vec<Pred>),
}

/// One table of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The table.
    pub table: Table,
    /// The name it goes by in the query (alias or table name).
    pub name: String,
    /// First slot of its columns in the combined row.
    pub offset: usize,
}

/// One aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    /// Function.
    pub func: AggFunc,
    /// Argument slot; None for `COUNT(*)`.
    pub arg: Option<Slot>,
}

/// A value computed for output or ordering: a position in the post row (the combined row
/// without grouping; `[group keys..., aggregates...]` with grouping) or a scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum OutExpr {
    /// Position in the post row.
    Post(usize),
    /// A constant, parameter or time.
    Scalar(Scalar),
}

/// One ORDER BY key over the post row.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    /// Position in the post row.
    pub post: usize,
    /// DESC.
    pub desc: bool,
    /// NULLs sort first.
    pub nulls_first: bool,
}

/// GROUP BY and aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Group key slots (empty: one group over everything).
    pub keys: Vec<Slot>,
    /// Aggregates.
    pub aggs: Vec<AggSpec>,
}

/// The type class a parameter must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Any value.
    Any,
    /// INTEGER or REAL (or NULL).
    Number,
    /// TEXT (or NULL).
    Text,
    /// A LIMIT/OFFSET count: INTEGER.
    Count,
}

/// What is known about one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Required kind.
    pub kind: ParamKind,
    /// What it is compared with (for messages).
    pub context: String,
    /// Where it first appears.
    pub pos: Pos,
}

/// The join of customers with one of its child tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinKeys {
    /// Index of the customers source.
    pub customers: usize,
    /// Index of the child source (scores, latest scores or messages).
    pub child: usize,
    /// Slot of `customers.id`.
    pub id_slot: Slot,
    /// Slot of `child.customer_id`.
    pub fk_slot: Slot,
}

/// A bound SELECT.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundSelect {
    /// FROM (index 0) and JOIN (index 1).
    pub sources: Vec<Source>,
    /// Width of the combined row.
    pub width: usize,
    /// The join condition, when there is a JOIN.
    pub join: Option<JoinKeys>,
    /// WHERE (and extra ON terms) as conjuncts.
    pub filter: Vec<Pred>,
    /// Grouping, when the query aggregates.
    pub group: Option<Grouping>,
    /// Output expressions.
    pub outputs: Vec<OutExpr>,
    /// Output names.
    pub columns: Vec<String>,
    /// ORDER BY.
    pub order: Vec<OrderKey>,
    /// LIMIT.
    pub limit: Option<Scalar>,
    /// OFFSET.
    pub offset: Option<Scalar>,
    /// Parameters.
    pub params: Vec<ParamInfo>,
    /// Slots read anywhere in the query.
    pub needed: Vec<bool>,
}

impl BoundSelect {
    /// The source a slot belongs to.
    pub fn source_of(&self, slot: Slot) -> usize {
        self.sources
            .iter()
            .rposition(|s| s.offset <= slot)
            .unwrap_or(0)
    }

    /// `name.column` of a slot.
    pub fn slot_name(&self, slot: Slot) -> String {
        let s = &self.sources[self.source_of(slot)];
        format!("{}.{}", s.name, s.table.columns()[slot - s.offset].name)
    }

    /// The bare column name of a slot.
    pub fn column_name(&self, slot: Slot) -> &'static str {
        let s = &self.sources[self.source_of(slot)];
        s.table.columns()[slot - s.offset].name
    }

    /// The declared type of a slot.
    pub fn slot_type(&self, slot: Slot) -> ColumnType {
        let s = &self.sources[self.source_of(slot)];
        s.table.columns()[slot - s.offset].ty
    }
}
