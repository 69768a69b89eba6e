//! Lowering: the sqlparser AST into cidb's statement model. Every construct outside the
//! supported subset is rejected here with `Unsupported`, naming the construct and its
//! line:column, so nothing unsupported can reach the planner and be half-understood.

use super::ast::*;
use crate::error::{err, Error, ErrorKind, Result};
use crate::schema::Value;
use sqlparser::ast as sp;
use sqlparser::ast::Spanned;

/// Millisecond lengths of interval units.
fn unit_ms(unit: &str) -> Option<i64> {
    let u = unit.to_ascii_lowercase();
    let u = u.trim_end_matches('s');
    Some(match u {
        "millisecond" | "ms" => 1,
        "second" | "sec" => 1_000,
        "minute" | "min" => 60_000,
        "hour" => 3_600_000,
        "day" => 86_400_000,
        "week" => 7 * 86_400_000,
        _ => return None,
    })
}

pub(crate) fn unsupported(what: impl std::fmt::Display, pos: Pos) -> Error {
    if pos.line == 0 {
        err(ErrorKind::Unsupported, format!("{what} is not supported"))
    } else {
        err(
            ErrorKind::Unsupported,
            format!("{what} is not supported (at {pos})"),
        )
    }
}

fn pos_of(span: sqlparser::tokenizer::Span) -> Pos {
    Pos {
        line: span.start.line,
        column: span.start.column,
    }
}

fn ident_pos(i: &sp::Ident) -> Pos {
    pos_of(i.span)
}

/// Lowers statements, numbering parameters in text order.
pub(crate) struct Lowerer {
    /// Highest parameter number seen (1-based), as SQLite numbers `?`.
    pub max_param: usize,
}

impl Lowerer {
    pub(crate) fn new() -> Lowerer {
        Lowerer { max_param: 0 }
    }

    pub(crate) fn statement(&mut self, s: &sp::Statement) -> Result<Statement> {
        let pos = pos_of(s.span());
        match s {
            sp::Statement::Query(q) => Ok(Statement::Select(Box::new(self.query(q)?))),
            sp::Statement::Explain {
                analyze,
                statement,
                format,
                options,
                estimate,
                verbose,
                ..
            } => {
                if format.is_some() || options.is_some() || *estimate || *verbose {
                    return Err(unsupported("EXPLAIN options", pos));
                }
                match statement.as_ref() {
                    sp::Statement::Query(q) => Ok(Statement::Explain {
                        analyze: *analyze,
                        query: Box::new(self.query(q)?),
                    }),
                    other => Err(unsupported(
                        format!("EXPLAIN of `{}`", first_words(&other.to_string())),
                        pos,
                    )),
                }
            }
            sp::Statement::CreateIndex(ci) => self.create_index(ci, pos),
            sp::Statement::Drop {
                object_type: sp::ObjectType::Index,
                if_exists,
                names,
                cascade,
                restrict,
                purge,
                temporary,
                table,
            } => {
                if *cascade || *restrict || *purge || *temporary || table.is_some() {
                    return Err(unsupported(
                        "DROP INDEX options (CASCADE, RESTRICT, ON table)",
                        pos,
                    ));
                }
                if names.len() != 1 {
                    return Err(unsupported("DROP INDEX of several indexes", pos));
                }
                Ok(Statement::DropIndex {
                    name: object_name(&names[0])?,
                    if_exists: *if_exists,
                })
            }
            sp::Statement::Analyze(a) => {
                if a.partitions.is_some()
                    || a.for_columns
                    || !a.columns.is_empty()
                    || a.cache_metadata
                    || a.noscan
                    || a.compute_statistics
                {
                    return Err(unsupported("ANALYZE options", pos));
                }
                let target = a.table_name.as_ref().map(object_name).transpose()?;
                Ok(Statement::Analyze { target })
            }
            other => Err(unsupported(
                format!("statement `{}`", first_words(&other.to_string())),
                pos,
            )),
        }
    }

    fn create_index(&mut self, ci: &sp::CreateIndex, pos: Pos) -> Result<Statement> {
        if ci.using.is_some()
            || ci.r#async
            || !ci.include.is_empty()
            || ci.nulls_distinct.is_some()
            || !ci.with.is_empty()
            || !ci.index_options.is_empty()
            || !ci.alter_options.is_empty()
        {
            return Err(unsupported(
                "CREATE INDEX options (USING, INCLUDE, WITH, NULLS DISTINCT)",
                pos,
            ));
        }
        let name = match &ci.name {
            Some(n) => object_name(n)?,
            None => {
                return Err(err(
                    ErrorKind::InvalidInput,
                    format!("CREATE INDEX needs a name (at {pos})"),
                ))
            }
        };
        let tpos = ci
            .table_name
            .0
            .first()
            .and_then(|p| p.as_ident())
            .map(ident_pos)
            .unwrap_or(pos);
        let table = TableRef {
            name: object_name(&ci.table_name)?,
            alias: None,
            pos: tpos,
        };
        let mut columns = Vec::new();
        for c in &ci.columns {
            let cpos = pos_of(c.column.expr.span());
            if c.operator_class.is_some()
                || c.column.options.sort.is_some()
                || c.column.options.nulls_first.is_some()
                || c.column.with_fill.is_some()
            {
                return Err(unsupported(
                    "index column options (ASC/DESC, NULLS, operator class)",
                    cpos,
                ));
            }
            match &c.column.expr {
                sp::Expr::Identifier(i) => columns.push((i.value.clone(), ident_pos(i))),
                other => return Err(unsupported(format!("index on expression `{other}`"), cpos)),
            }
        }
        let predicate = ci.predicate.as_ref().map(|p| self.expr(p)).transpose()?;
        Ok(Statement::CreateIndex(CreateIndex {
            name,
            table,
            columns,
            unique: ci.unique,
            concurrently: ci.concurrently,
            if_not_exists: ci.if_not_exists,
            predicate,
            predicate_sql: ci.predicate.as_ref().map(|p| p.to_string()),
        }))
    }

    pub(crate) fn query(&mut self, q: &sp::Query) -> Result<Select> {
        let qpos = pos_of(q.span());
        if let Some(w) = &q.with {
            return Err(unsupported(
                "WITH (common table expressions)",
                pos_of(w.span()),
            ));
        }
        if q.fetch.is_some() {
            return Err(unsupported("FETCH", qpos));
        }
        if !q.locks.is_empty() || q.for_clause.is_some() {
            return Err(unsupported("FOR UPDATE / FOR clauses", qpos));
        }
        if q.settings.is_some() || q.format_clause.is_some() || !q.pipe_operators.is_empty() {
            return Err(unsupported("SETTINGS / FORMAT / pipe operators", qpos));
        }
        let select = match q.body.as_ref() {
            sp::SetExpr::Select(s) => s,
            sp::SetExpr::Query(inner) => {
                return Err(unsupported("parenthesised query", pos_of(inner.span())))
            }
            sp::SetExpr::SetOperation { op, .. } => return Err(unsupported(format!("{op}"), qpos)),
            sp::SetExpr::Values(_) => return Err(unsupported("VALUES", qpos)),
            other => {
                return Err(unsupported(
                    format!("statement `{}`", first_words(&other.to_string())),
                    qpos,
                ))
            }
        };
        let mut out = self.select(select)?;
        if let Some(ob) = &q.order_by {
            if ob.interpolate.is_some() {
                return Err(unsupported("INTERPOLATE", qpos));
            }
            match &ob.kind {
                sp::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL", qpos)),
                sp::OrderByKind::Expressions(items) => {
                    for it in items {
                        let ipos = pos_of(it.expr.span());
                        if it.with_fill.is_some() {
                            return Err(unsupported("WITH FILL", ipos));
                        }
                        let desc = match &it.options.sort {
                            None | Some(sp::OrderBySort::Asc) => false,
                            Some(sp::OrderBySort::Desc) => true,
                            Some(_) => return Err(unsupported("ORDER BY ... USING", ipos)),
                        };
                        out.order_by.push(OrderItem {
                            expr: self.expr(&it.expr)?,
                            desc,
                            nulls_first: it.options.nulls_first,
                        });
                    }
                }
            }
        }
        if let Some(lc) = &q.limit_clause {
            match lc {
                sp::LimitClause::LimitOffset {
                    limit,
                    offset,
                    limit_by,
                } => {
                    if !limit_by.is_empty() {
                        return Err(unsupported("LIMIT BY", qpos));
                    }
                    out.limit = limit.as_ref().map(|e| self.expr(e)).transpose()?;
                    out.offset = offset.as_ref().map(|o| self.expr(&o.value)).transpose()?;
                }
                sp::LimitClause::OffsetCommaLimit { offset, limit } => {
                    out.offset = Some(self.expr(offset)?);
                    out.limit = Some(self.expr(limit)?);
                }
            }
        }
        Ok(out)
    }

    fn select(&mut self, s: &sp::Select) -> Result<Select> {
        let spos = pos_of(s.select_token.0.span);
        if s.distinct.is_some() {
            return Err(unsupported("SELECT DISTINCT", spos));
        }
        if s.top.is_some() {
            return Err(unsupported("TOP", spos));
        }
        if !s.optimizer_hints.is_empty() || s.select_modifiers.is_some() || s.exclude.is_some() {
            return Err(unsupported("SELECT modifiers", spos));
        }
        if s.into.is_some() {
            return Err(unsupported("SELECT INTO", spos));
        }
        if !s.lateral_views.is_empty() || s.prewhere.is_some() || !s.connect_by.is_empty() {
            return Err(unsupported("LATERAL VIEW / PREWHERE / CONNECT BY", spos));
        }
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            return Err(unsupported("CLUSTER BY / DISTRIBUTE BY / SORT BY", spos));
        }
        if let Some(h) = &s.having {
            return Err(unsupported("HAVING", pos_of(h.span())));
        }
        if !s.named_window.is_empty() || s.qualify.is_some() || s.value_table_mode.is_some() {
            return Err(unsupported("WINDOW / QUALIFY", spos));
        }
        if !matches!(s.flavor, sp::SelectFlavor::Standard) {
            return Err(unsupported("FROM-first SELECT", spos));
        }
        // Select list first: parameters are numbered in text order.
        let mut items = Vec::new();
        for it in &s.projection {
            items.push(self.select_item(it)?);
        }
        let (from, join) = match s.from.as_slice() {
            [] => return Err(unsupported("SELECT without FROM", spos)),
            [twj] => self.from(twj)?,
            [_, second, ..] => {
                return Err(unsupported(
                    "several tables in FROM (comma join)",
                    pos_of(second.relation.span()),
                ))
            }
        };
        let filter = s.selection.as_ref().map(|e| self.expr(e)).transpose()?;
        let group_by = match &s.group_by {
            sp::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL", spos)),
            sp::GroupByExpr::Expressions(es, mods) => {
                if !mods.is_empty() {
                    return Err(unsupported("GROUP BY modifiers (ROLLUP, CUBE)", spos));
                }
                es.iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        Ok(Select {
            items,
            from,
            join,
            filter,
            group_by,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        })
    }

    fn select_item(&mut self, it: &sp::SelectItem) -> Result<SelectItem> {
        match it {
            sp::SelectItem::UnnamedExpr(e) => {
                let text = match e {
                    sp::Expr::Identifier(i) => i.value.clone(),
                    sp::Expr::CompoundIdentifier(ids) => {
                        ids.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    other => other.to_string(),
                };
                Ok(SelectItem::Expr {
                    expr: self.expr(e)?,
                    alias: None,
                    text,
                })
            }
            sp::SelectItem::ExprWithAlias { expr, alias } => Ok(SelectItem::Expr {
                expr: self.expr(expr)?,
                alias: Some(alias.value.clone()),
                text: expr.to_string(),
            }),
            sp::SelectItem::ExprWithAliases { .. } => Err(unsupported(
                "several aliases for one expression",
                pos_of(it.span()),
            )),
            sp::SelectItem::Wildcard(opts) => {
                let pos = pos_of(opts.wildcard_token.0.span);
                check_wildcard_opts(opts, pos)?;
                Ok(SelectItem::Wildcard(pos))
            }
            sp::SelectItem::QualifiedWildcard(kind, opts) => {
                let pos = pos_of(it.span());
                check_wildcard_opts(opts, pos)?;
                match kind {
                    sp::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        Ok(SelectItem::QualifiedWildcard(object_name(n)?, pos))
                    }
                    sp::SelectItemQualifiedWildcardKind::Expr(e) => {
                        Err(unsupported(format!("`{e}.*`"), pos))
                    }
                }
            }
        }
    }

    fn table_factor(&mut self, f: &sp::TableFactor) -> Result<TableRef> {
        let pos = pos_of(f.span());
        match f {
            sp::TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives,
                ..
            } => {
                if args.is_some()
                    || !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_directives.is_empty()
                {
                    return Err(unsupported(
                        "table options (hints, arguments, sampling)",
                        pos,
                    ));
                }
                if let Some(a) = alias {
                    if !a.columns.is_empty() {
                        return Err(unsupported("column aliases on a table", pos));
                    }
                }
                let tpos = name
                    .0
                    .first()
                    .and_then(|p| p.as_ident())
                    .map(ident_pos)
                    .unwrap_or(pos);
                Ok(TableRef {
                    name: object_name(name)?,
                    alias: alias.as_ref().map(|a| a.name.value.clone()),
                    pos: tpos,
                })
            }
            sp::TableFactor::Derived { .. } => Err(unsupported("subquery in FROM", pos)),
            other => Err(unsupported(format!("table expression `{other}`"), pos)),
        }
    }

    fn from(&mut self, twj: &sp::TableWithJoins) -> Result<(TableRef, Option<JoinClause>)> {
        let from = self.table_factor(&twj.relation)?;
        let join = match twj.joins.as_slice() {
            [] => None,
            [j] => {
                let jpos = pos_of(j.relation.span());
                let constraint = match &j.join_operator {
                    sp::JoinOperator::Join(c) | sp::JoinOperator::Inner(c) => c,
                    sp::JoinOperator::Left(_) | sp::JoinOperator::LeftOuter(_) => {
                        return Err(unsupported("LEFT JOIN", jpos))
                    }
                    sp::JoinOperator::Right(_) | sp::JoinOperator::RightOuter(_) => {
                        return Err(unsupported("RIGHT JOIN", jpos))
                    }
                    sp::JoinOperator::FullOuter(_) => {
                        return Err(unsupported("FULL OUTER JOIN", jpos))
                    }
                    sp::JoinOperator::CrossJoin(_) => return Err(unsupported("CROSS JOIN", jpos)),
                    _ => return Err(unsupported("this kind of JOIN", jpos)),
                };
                let table = self.table_factor(&j.relation)?;
                let on = match constraint {
                    sp::JoinConstraint::On(e) => self.expr(e)?,
                    sp::JoinConstraint::Using(_) | sp::JoinConstraint::UsingAlias(..) => {
                        return Err(unsupported("JOIN ... USING", jpos))
                    }
                    sp::JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN", jpos)),
                    sp::JoinConstraint::None => return Err(unsupported("JOIN without ON", jpos)),
                };
                Some(JoinClause { table, on })
            }
            [_, second, ..] => {
                return Err(unsupported(
                    "more than one JOIN",
                    pos_of(second.relation.span()),
                ))
            }
        };
        Ok((from, join))
    }

    fn param(&mut self, text: &str, pos: Pos) -> Result<Expr> {
        let n = if text == "?" {
            self.max_param + 1
        } else {
            let digits = text.trim_start_matches(['?', '$']);
            match digits.parse::<usize>() {
                Ok(n) if (1..=32_766).contains(&n) => n,
                _ => {
                    return Err(err(
                        ErrorKind::InvalidParameter,
                        format!("bad parameter `{text}` at {pos}; use ?, ?N or $N with N >= 1"),
                    ))
                }
            }
        };
        self.max_param = self.max_param.max(n);
        Ok(Expr::Param { index: n - 1, pos })
    }

    fn literal(&mut self, v: &sp::Value, pos: Pos, negate: bool) -> Result<Expr> {
        let value = match v {
            sp::Value::Number(s, _) => parse_number(s, negate, pos)?,
            _ if negate => return Err(unsupported(format!("unary minus on `{v}`"), pos)),
            sp::Value::SingleQuotedString(s) => Value::Text(s.clone()),
            sp::Value::Boolean(b) => Value::Int(*b as i64),
            sp::Value::Null => Value::Null,
            sp::Value::Placeholder(p) => return self.param(p, pos),
            other => return Err(unsupported(format!("literal `{other}`"), pos)),
        };
        Ok(Expr::Literal { value, pos })
    }

    pub(crate) fn expr(&mut self, e: &sp::Expr) -> Result<Expr> {
        let pos = pos_of(e.span());
        match e {
            sp::Expr::Identifier(i) => {
                if i.quote_style == Some('\'') {
                    return Ok(Expr::Literal {
                        value: Value::Text(i.value.clone()),
                        pos,
                    });
                }
                Ok(Expr::Column {
                    qualifier: None,
                    name: i.value.clone(),
                    pos: ident_pos(i),
                })
            }
            sp::Expr::CompoundIdentifier(ids) => match ids.as_slice() {
                [t, c] => Ok(Expr::Column {
                    qualifier: Some(t.value.clone()),
                    name: c.value.clone(),
                    pos: ident_pos(t),
                }),
                _ => Err(unsupported(format!("qualified name `{e}`"), pos)),
            },
            sp::Expr::Nested(inner) => self.expr(inner),
            sp::Expr::Value(v) => self.literal(&v.value, pos_of(v.span), false),
            sp::Expr::UnaryOp { op, expr } => match op {
                sp::UnaryOperator::Not => Ok(Expr::Not(Box::new(self.expr(expr)?))),
                sp::UnaryOperator::Minus | sp::UnaryOperator::Plus => match expr.as_ref() {
                    sp::Expr::Value(v) => {
                        self.literal(&v.value, pos, *op == sp::UnaryOperator::Minus)
                    }
                    _ => Err(unsupported(format!("unary `{op}` on an expression"), pos)),
                },
                other => Err(unsupported(format!("operator `{other}`"), pos)),
            },
            sp::Expr::BinaryOp { left, op, right } => {
                let cmp = match op {
                    sp::BinaryOperator::Eq => Some(CmpOp::Eq),
                    sp::BinaryOperator::NotEq => Some(CmpOp::Ne),
                    sp::BinaryOperator::Lt => Some(CmpOp::Lt),
                    sp::BinaryOperator::LtEq => Some(CmpOp::Le),
                    sp::BinaryOperator::Gt => Some(CmpOp::Gt),
                    sp::BinaryOperator::GtEq => Some(CmpOp::Ge),
                    _ => None,
                };
                if let Some(op) = cmp {
                    let l = self.expr(left)?;
                    let r = self.expr(right)?;
                    return Ok(Expr::Cmp {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                        pos,
                    });
                }
                match op {
                    sp::BinaryOperator::And => Ok(Expr::And(
                        Box::new(self.expr(left)?),
                        Box::new(self.expr(right)?),
                    )),
                    sp::BinaryOperator::Or => Ok(Expr::Or(
                        Box::new(self.expr(left)?),
                        Box::new(self.expr(right)?),
                    )),
                    sp::BinaryOperator::Minus if is_now(left) => {
                        let ms = interval_ms(right, pos)?;
                        Ok(Expr::Now { minus_ms: ms, pos })
                    }
                    sp::BinaryOperator::Plus if is_now(left) => {
                        let ms = interval_ms(right, pos)?;
                        Ok(Expr::Now { minus_ms: -ms, pos })
                    }
                    other => Err(unsupported(format!("operator `{other}`"), pos_of(e.span()))),
                }
            }
            sp::Expr::IsNull(x) => Ok(Expr::IsNull {
                expr: Box::new(self.expr(x)?),
                negated: false,
            }),
            sp::Expr::IsNotNull(x) => Ok(Expr::IsNull {
                expr: Box::new(self.expr(x)?),
                negated: true,
            }),
            sp::Expr::In {
                expr,
                target,
                negated,
                global,
            } => {
                let list = match target {
                    sp::InTarget::List(l) if !*global => l,
                    sp::InTarget::Subquery(_) => return Err(unsupported("IN (subquery)", pos)),
                    _ => return Err(unsupported(format!("`{e}`"), pos)),
                };
                let x = self.expr(expr)?;
                let list = list
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<Vec<_>>>()?;
                if list.is_empty() {
                    return Err(unsupported("empty IN list", pos));
                }
                Ok(Expr::InList {
                    expr: Box::new(x),
                    list,
                    negated: *negated,
                })
            }
            sp::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.expr(expr)?;
                let lo = self.expr(low)?;
                let hi = self.expr(high)?;
                Ok(Expr::Between {
                    expr: Box::new(x),
                    low: Box::new(lo),
                    high: Box::new(hi),
                    negated: *negated,
                })
            }
            sp::Expr::Function(f) => self.function(f, pos),
            sp::Expr::Subquery(_) | sp::Expr::Exists { .. } => Err(unsupported("subquery", pos)),
            sp::Expr::Like { .. } | sp::Expr::ILike { .. } => Err(unsupported("LIKE", pos)),
            sp::Expr::Case { .. } => Err(unsupported("CASE", pos)),
            sp::Expr::Cast { .. } => Err(unsupported("CAST", pos)),
            other => Err(unsupported(format!("expression `{other}`"), pos)),
        }
    }

    fn function(&mut self, f: &sp::Function, pos: Pos) -> Result<Expr> {
        let name = object_name(&f.name)?.to_ascii_uppercase();
        if matches!(name.as_str(), "CURRENT_TIMESTAMP" | "NOW") {
            return Ok(Expr::Now { minus_ms: 0, pos });
        }
        let func = match name.as_str() {
            "COUNT" => AggFunc::Count,
            "SUM" => AggFunc::Sum,
            "AVG" => AggFunc::Avg,
            "MIN" => AggFunc::Min,
            "MAX" => AggFunc::Max,
            _ => return Err(unsupported(format!("function {name}()"), pos)),
        };
        if f.over.is_some() {
            return Err(unsupported(format!("window function {name}() OVER"), pos));
        }
        if f.filter.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
            || f.uses_odbc_syntax
        {
            return Err(unsupported(
                format!("{name}() with FILTER / WITHIN GROUP"),
                pos,
            ));
        }
        if !matches!(f.parameters, sp::FunctionArguments::None) {
            return Err(unsupported(format!("parametric {name}()"), pos));
        }
        let list = match &f.args {
            sp::FunctionArguments::List(l) => l,
            _ => return Err(unsupported(format!("{name} without an argument list"), pos)),
        };
        if !list.clauses.is_empty() {
            return Err(unsupported(format!("{name}() argument clauses"), pos));
        }
        let distinct = match list.duplicate_treatment {
            Some(sp::DuplicateTreatment::Distinct) => true,
            Some(sp::DuplicateTreatment::All) | None => false,
        };
        if distinct {
            return Err(unsupported(format!("{name}(DISTINCT ...)"), pos));
        }
        let arg = match list.args.as_slice() {
            [sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard)] if func == AggFunc::Count => {
                None
            }
            [sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e))] => {
                let x = self.expr(e)?;
                if x.has_aggregate() {
                    return Err(unsupported("nested aggregate", x.pos()));
                }
                Some(Box::new(x))
            }
            _ => return Err(unsupported(format!("these arguments to {name}()"), pos)),
        };
        Ok(Expr::Aggregate {
            func,
            arg,
            distinct,
            pos,
        })
    }
}

fn check_wildcard_opts(o: &sp::WildcardAdditionalOptions, pos: Pos) -> Result<()> {
    if o.opt_ilike.is_some()
        || o.opt_exclude.is_some()
        || o.opt_except.is_some()
        || o.opt_replace.is_some()
        || o.opt_rename.is_some()
        || o.opt_alias.is_some()
    {
        return Err(unsupported(
            "wildcard options (EXCLUDE, EXCEPT, REPLACE, RENAME)",
            pos,
        ));
    }
    Ok(())
}

fn is_now(e: &sp::Expr) -> bool {
    match e {
        sp::Expr::Function(f) => {
            let n = f.name.to_string().to_ascii_uppercase();
            n == "CURRENT_TIMESTAMP"
                || (n == "NOW"
                    && matches!(&f.args, sp::FunctionArguments::List(l) if l.args.is_empty()))
        }
        sp::Expr::Nested(x) => is_now(x),
        _ => false,
    }
}

/// `INTERVAL '30 days'`, `INTERVAL '30' DAY`, `INTERVAL 30 DAY` in milliseconds.
fn interval_ms(e: &sp::Expr, pos: Pos) -> Result<i64> {
    let iv = match e {
        sp::Expr::Interval(iv) => iv,
        sp::Expr::Nested(x) => return interval_ms(x, pos),
        other => {
            return Err(unsupported(
                format!("CURRENT_TIMESTAMP arithmetic with `{other}` (use INTERVAL 'N days')"),
                pos,
            ))
        }
    };
    if iv.last_field.is_some()
        || iv.leading_precision.is_some()
        || iv.fractional_seconds_precision.is_some()
    {
        return Err(unsupported("INTERVAL ranges and precisions", pos));
    }
    let text = match iv.value.as_ref() {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::SingleQuotedString(s) => s.clone(),
            sp::Value::Number(n, _) => n.clone(),
            other => return Err(unsupported(format!("INTERVAL value `{other}`"), pos)),
        },
        other => return Err(unsupported(format!("INTERVAL value `{other}`"), pos)),
    };
    let mut words = text.split_whitespace();
    let n: i64 = words.next().and_then(|w| w.parse().ok()).ok_or_else(|| {
        err(
            ErrorKind::SqlSyntax,
            format!("INTERVAL '{text}' needs a whole number of units (at {pos})"),
        )
    })?;
    let unit = match (words.next(), &iv.leading_field) {
        (Some(u), None) => u.to_string(),
        (None, Some(f)) => f.to_string(),
        (None, None) => {
            return Err(err(
                ErrorKind::SqlSyntax,
                format!("INTERVAL '{text}' needs a unit such as days (at {pos})"),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(err(
                ErrorKind::SqlSyntax,
                format!("INTERVAL '{text}' has two units (at {pos})"),
            ))
        }
    };
    if words.next().is_some() {
        return Err(unsupported(format!("compound INTERVAL '{text}'"), pos));
    }
    let ms = unit_ms(&unit).ok_or_else(|| unsupported(format!("INTERVAL unit {unit}"), pos))?;
    n.checked_mul(ms).ok_or_else(|| {
        err(
            ErrorKind::InvalidInput,
            format!("INTERVAL '{text}' is too large (at {pos})"),
        )
    })
}

fn parse_number(s: &str, negate: bool, pos: Pos) -> Result<Value> {
    let is_int = s.bytes().all(|b| b.is_ascii_digit());
    if is_int {
        let text = if negate {
            format!("-{s}")
        } else {
            s.to_string()
        };
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Value::Real(if negate { -f } else { f })),
        _ => Err(err(
            ErrorKind::SqlSyntax,
            format!("bad number `{s}` at {pos}"),
        )),
    }
}

fn object_name(n: &sp::ObjectName) -> Result<String> {
    match n.0.as_slice() {
        [p] => match p.as_ident() {
            Some(i) => Ok(i.value.clone()),
            None => Err(unsupported(format!("name `{n}`"), pos_of(n.span()))),
        },
        _ => Err(unsupported(
            format!("qualified name `{n}` (schemas)"),
            pos_of(n.span()),
        )),
    }
}

fn first_words(s: &str) -> String {
    let w: Vec<&str> = s.split_whitespace().take(3).collect();
    w.join(" ")
}
