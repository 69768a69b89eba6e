//! cidb's own statement model: what the SQL subset can say, with source positions, before
//! names are resolved. The sqlparser AST is lowered into these types (see `lower`) and never
//! executed directly, so the planner depends only on what cidb supports.

use crate::schema::Value;
use std::cmp::Ordering;
use std::fmt;

/// A position in the SQL text (1-based line and column; 0:0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>` / `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            o => o,
        }
    }

    /// The negated operator (`NOT a < b` is `a >= b`; NULLs stay NULL either way).
    pub fn negate(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    /// True when `ord` (left compared with right) satisfies the operator.
    #[inline]
    pub fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }

    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `COUNT(*)` / `COUNT(x)`
    Count,
    /// `SUM(x)`
    Sum,
    /// `AVG(x)`
    Avg,
    /// `MIN(x)`
    Min,
    /// `MAX(x)`
    Max,
}

impl AggFunc {
    /// The SQL name.
    pub fn sql(self) -> &'static str {
        match self {
            AggFunc::Count => "COUNT",
            AggFunc::Sum => "SUM",
            AggFunc::Avg => "AVG",
            AggFunc::Min => "MIN",
            AggFunc::Max => "MAX",
        }
    }
}

/// An expression as written (names not yet resolved).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, optionally qualified by a table name or alias.
    Column {
        /// The qualifier (`c` in `c.id`).
        qualifier: Option<String>,
        /// The column name.
        name: String,
        /// Where it was written.
        pos: Pos,
    },
    /// A constant.
    Literal {
        /// The value.
        value: Value,
        /// Where it was written.
        pos: Pos,
    },
    /// A `?` parameter (0-based index).
    Param {
        /// Index into the parameter list.
        index: usize,
        /// Where it was written.
        pos: Pos,
    },
    /// `CURRENT_TIMESTAMP [- INTERVAL 'N unit']`: now in ms, minus an interval.
    Now {
        /// The interval subtracted, in ms (0 for plain CURRENT_TIMESTAMP).
        minus_ms: i64,
        /// Where it was written.
        pos: Pos,
    },
    /// A comparison.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// Where the comparison starts.
        pos: Pos,
    },
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `x IS [NOT] NULL`
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// True for IS NOT NULL.
        negated: bool,
    },
    /// `x [NOT] IN (a, b, ...)`
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// True for NOT IN.
        negated: bool,
    },
    /// `x [NOT] BETWEEN lo AND hi`
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
        /// True for NOT BETWEEN.
        negated: bool,
    },
    /// An aggregate call.
    Aggregate {
        /// The function.
        func: AggFunc,
        /// The argument; `None` for `COUNT(*)`.
        arg: Option<Box<Expr>>,
        /// `COUNT(DISTINCT x)` and friends.
        distinct: bool,
        /// Where it was written.
        pos: Pos,
    },
}

impl Expr {
    /// The position of the expression (its first token when known).
    pub fn pos(&self) -> Pos {
        match self {
            Expr::Column { pos, .. }
            | Expr::Literal { pos, .. }
            | Expr::Param { pos, .. }
            | Expr::Now { pos, .. }
            | Expr::Cmp { pos, .. }
            | Expr::Aggregate { pos, .. } => *pos,
            Expr::And(a, _) | Expr::Or(a, _) | Expr::Not(a) => a.pos(),
            Expr::IsNull { expr, .. } | Expr::InList { expr, .. } | Expr::Between { expr, .. } => {
                expr.pos()
            }
        }
    }

    /// True when an aggregate appears anywhere inside.
    pub fn has_aggregate(&self) -> bool {
        match self {
            Expr::Aggregate { .. } => true,
            Expr::Column { .. } | Expr::Literal { .. } | Expr::Param { .. } | Expr::Now { .. } => {
                false
            }
            Expr::Cmp { left, right, .. } => left.has_aggregate() || right.has_aggregate(),
            Expr::And(a, b) | Expr::Or(a, b) => a.has_aggregate() || b.has_aggregate(),
            Expr::Not(a) => a.has_aggregate(),
            Expr::IsNull { expr, .. } => expr.has_aggregate(),
            Expr::InList { expr, list, .. } => {
                expr.has_aggregate() || list.iter().any(|e| e.has_aggregate())
            }
            Expr::Between {
                expr, low, high, ..
            } => expr.has_aggregate() || low.has_aggregate() || high.has_aggregate(),
        }
    }
}

/// One item of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard(Pos),
    /// `t.*`
    QualifiedWildcard(String, Pos),
    /// An expression with an optional alias; `text` is the expression as written (the
    /// column name when there is no alias).
    Expr {
        /// The expression.
        expr: Expr,
        /// `AS name`.
        alias: Option<String>,
        /// The expression's SQL text.
        text: String,
    },
}

/// A table in FROM or JOIN.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    /// The table name as written.
    pub name: String,
    /// The alias, if any.
    pub alias: Option<String>,
    /// Where the name was written.
    pub pos: Pos,
}

/// The one JOIN a query may have.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinClause {
    /// The joined table.
    pub table: TableRef,
    /// The ON condition.
    pub on: Expr,
}

/// One ORDER BY key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The key.
    pub expr: Expr,
    /// DESC.
    pub desc: bool,
    /// NULLS FIRST (`Some(true)`) / NULLS LAST (`Some(false)`); SQLite's default otherwise.
    pub nulls_first: Option<bool>,
}

/// A SELECT statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// The select list.
    pub items: Vec<SelectItem>,
    /// FROM.
    pub from: TableRef,
    /// JOIN.
    pub join: Option<JoinClause>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// GROUP BY.
    pub group_by: Vec<Expr>,
    /// ORDER BY.
    pub order_by: Vec<OrderItem>,
    /// LIMIT.
    pub limit: Option<Expr>,
    /// OFFSET.
    pub offset: Option<Expr>,
}

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON table(cols) [WHERE p]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIndex {
    /// Index name.
    pub name: String,
    /// Table.
    pub table: TableRef,
    /// Column names and positions.
    pub columns: Vec<(String, Pos)>,
    /// UNIQUE.
    pub unique: bool,
    /// CONCURRENTLY.
    pub concurrently: bool,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
    /// The partial-index predicate.
    pub predicate: Option<Expr>,
    /// The predicate's SQL text.
    pub predicate_sql: Option<String>,
}

/// A statement cidb understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// SELECT.
    Select(Box<Select>),
    /// `EXPLAIN [QUERY PLAN] [ANALYZE] <select>`.
    Explain {
        /// EXPLAIN ANALYZE: run it and report actual figures.
        analyze: bool,
        /// The explained query.
        query: Box<Select>,
    },
    /// CREATE INDEX.
    CreateIndex(CreateIndex),
    /// `DROP INDEX [IF EXISTS] name`.
    DropIndex {
        /// Index name.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// `ANALYZE [table-or-index]`.
    Analyze {
        /// What to analyze (everything when None).
        target: Option<String>,
    },
}

/// A parsed statement with its parameter count.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The statement.
    pub stmt: Statement,
    /// Number of parameters (`?`, `?N`, `$N`).
    pub params: usize,
}
