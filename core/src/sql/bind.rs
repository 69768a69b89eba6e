//! Binding: resolves table and column names of a lowered SELECT against the schema, checks
//! types (numbers against numbers, text against text), infers what each parameter must
//! be, and produces the bound query the planner works on: sources laid out side by side in
//! one row of slots, WHERE as a list of conjuncts with NOT pushed down, aggregates and
//! grouping keys, outputs, ORDER BY keys and LIMIT/OFFSET.

use super::ast::{self, AggFunc, CmpOp, Expr, Pos, Select, SelectItem};
pub use super::bound::*;
use super::unsupported;
use crate::error::{err, ErrorKind, Result};
use crate::schema::{ColumnType, Table, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Num,
    Text,
}

fn class_of_type(t: ColumnType) -> Class {
    match t {
        ColumnType::Int | ColumnType::Real => Class::Num,
        ColumnType::Text | ColumnType::Json => Class::Text,
    }
}

fn class_of_value(v: &Value) -> Option<Class> {
    match v {
        Value::Null => None,
        Value::Int(_) | Value::Real(_) => Some(Class::Num),
        Value::Text(_) | Value::Json(_) => Some(Class::Text),
    }
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Num => "a number",
        Class::Text => "text",
    }
}

struct Binder {
    sources: Vec<Source>,
    params: Vec<ParamInfo>,
}

/// Binds a lowered SELECT with `nparams` parameters.
pub fn bind(sel: &Select, nparams: usize) -> Result<BoundSelect> {
    let mut b = Binder {
        sources: Vec::new(),
        params: (0..nparams)
            .map(|_| ParamInfo {
                kind: ParamKind::Any,
                context: String::new(),
                pos: Pos::default(),
            })
            .collect(),
    };
    b.add_source(&sel.from)?;
    if let Some(j) = &sel.join {
        b.add_source(&j.table)?;
    }
    let width = b.sources.iter().map(|s| s.table.columns().len()).sum();

    // WHERE and the join condition.
    let mut filter = Vec::new();
    if let Some(w) = &sel.filter {
        if w.has_aggregate() {
            return Err(unsupported("aggregate in WHERE", w.pos()));
        }
        let p = b.pred(w, false)?;
        flatten_and(p, &mut filter);
    }
    let join = match &sel.join {
        None => None,
        Some(j) => {
            let p = b.pred(&j.on, false)?;
            let mut on = Vec::new();
            flatten_and(p, &mut on);
            let keys = b.join_keys(&mut on, j.on.pos())?;
            filter.extend(on);
            Some(keys)
        }
    };

    // Select list (first pass: detect aggregation).
    let aggregating = !sel.group_by.is_empty()
        || sel
            .items
            .iter()
            .any(|i| matches!(i, SelectItem::Expr { expr, .. } if expr.has_aggregate()))
        || sel.order_by.iter().any(|o| o.expr.has_aggregate());

    let mut outputs = Vec::new();
    let mut columns = Vec::new();
    let mut aliases: Vec<Option<String>> = Vec::new();
    let mut group: Option<Grouping> = None;
    let mut out_slots: Vec<Option<Slot>> = Vec::new(); // source slot an output column reads (grouped or not)

    if aggregating {
        // Group keys first: outputs refer to them.
        let mut keys = Vec::new();
        for g in &sel.group_by {
            let slot = b.group_key(g, sel)?;
            if !keys.contains(&slot) {
                keys.push(slot);
            }
        }
        group = Some(Grouping {
            keys,
            aggs: Vec::new(),
        });
    }

    for it in &sel.items {
        match it {
            SelectItem::Wildcard(pos) | SelectItem::QualifiedWildcard(_, pos) => {
                if aggregating {
                    return Err(unsupported(
                        "`*` together with GROUP BY or aggregates",
                        *pos,
                    ));
                }
                let which: Vec<usize> = match it {
                    SelectItem::QualifiedWildcard(q, pos) => vec![b.source_by_name(q, *pos)?],
                    _ => (0..b.sources.len()).collect(),
                };
                for si in which {
                    let s = &b.sources[si];
                    for (i, c) in s.table.columns().iter().enumerate() {
                        outputs.push(OutExpr::Post(s.offset + i));
                        out_slots.push(Some(s.offset + i));
                        columns.push(c.name.to_string());
                        aliases.push(None);
                    }
                }
            }
            SelectItem::Expr { expr, alias, text } => {
                let (o, slot) = b.output(expr, group.as_mut())?;
                outputs.push(o);
                out_slots.push(slot);
                columns.push(alias.clone().unwrap_or_else(|| text.clone()));
                aliases.push(alias.clone());
            }
        }
    }

    // ORDER BY.
    let mut order = Vec::new();
    for o in &sel.order_by {
        let target = b.order_target(&o.expr, &outputs, &aliases, group.as_mut())?;
        let post = match target {
            OutExpr::Post(p) => p,
            OutExpr::Scalar(_) => continue, // ordering by a constant changes nothing
        };
        // SQLite: NULLs first ascending, last descending.
        order.push(OrderKey {
            post,
            desc: o.desc,
            nulls_first: o.nulls_first.unwrap_or(!o.desc),
        });
    }

    let limit = sel
        .limit
        .as_ref()
        .map(|e| b.count(e, "LIMIT"))
        .transpose()?;
    let offset = sel
        .offset
        .as_ref()
        .map(|e| b.count(e, "OFFSET"))
        .transpose()?;

    let mut needed = vec![false; width];
    for p in &filter {
        mark_pred(p, &mut needed);
    }
    if let Some(j) = &join {
        needed[j.id_slot] = true;
        needed[j.fk_slot] = true;
    }
    if let Some(g) = &group {
        for &k in &g.keys {
            needed[k] = true;
        }
        for a in &g.aggs {
            if let Some(s) = a.arg {
                needed[s] = true;
            }
        }
    } else {
        for o in outputs.iter() {
            if let OutExpr::Post(p) = o {
                needed[*p] = true;
            }
        }
        for k in &order {
            needed[k.post] = true;
        }
    }
    let _ = out_slots;
    Ok(BoundSelect {
        sources: b.sources,
        width,
        join,
        filter,
        group,
        outputs,
        columns,
        order,
        limit,
        offset,
        params: b.params,
        needed,
    })
}

fn flatten_and(p: Pred, out: &mut Vec<Pred>) {
    match p {
        Pred::And(v) => {
            for x in v {
                flatten_and(x, out);
            }
        }
        other => out.push(other),
    }
}

fn mark_scalar(s: &Scalar, needed: &mut [bool]) {
    if let Scalar::Col(c) = s {
        needed[*c] = true;
    }
}

/// Marks every slot a predicate reads.
pub fn mark_pred(p: &Pred, needed: &mut [bool]) {
    match p {
        Pred::Cmp(_, a, b) => {
            mark_scalar(a, needed);
            mark_scalar(b, needed);
        }
        Pred::In { x, list, .. } => {
            mark_scalar(x, needed);
            list.iter().for_each(|s| mark_scalar(s, needed));
        }
        Pred::Between { x, lo, hi, .. } => {
            mark_scalar(x, needed);
            mark_scalar(lo, needed);
            mark_scalar(hi, needed);
        }
        Pred::IsNull { x, .. } => mark_scalar(x, needed),
        Pred::And(v) | Pred::Or(v) => v.iter().for_each(|q| mark_pred(q, needed)),
    }
}

impl Binder {
    fn add_source(&mut self, t: &ast::TableRef) -> Result<()> {
        let table = Table::from_name(&t.name).ok_or_else(|| {
            err(
                ErrorKind::UnknownTable,
                format!("no such table: {} (at {})", t.name, t.pos),
            )
        })?;
        let name = t.alias.clone().unwrap_or_else(|| table.name().to_string());
        if self
            .sources
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&name))
        {
            return Err(unsupported(format!("joining {name} with itself"), t.pos));
        }
        let offset = self
            .sources
            .last()
            .map_or(0, |s| s.offset + s.table.columns().len());
        self.sources.push(Source {
            table,
            name,
            offset,
        });
        Ok(())
    }

    fn source_by_name(&self, q: &str, pos: Pos) -> Result<usize> {
        self.sources
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(q))
            .ok_or_else(|| {
                err(
                    ErrorKind::UnknownTable,
                    format!("no such table: {q} (at {pos})"),
                )
            })
    }

    fn column(&self, qualifier: &Option<String>, name: &str, pos: Pos) -> Result<Slot> {
        match qualifier {
            Some(q) => {
                let s = &self.sources[self.source_by_name(q, pos)?];
                let i = s.table.column_index(name).ok_or_else(|| {
                    err(
                        ErrorKind::UnknownColumn,
                        format!("no such column: {q}.{name} (at {pos})"),
                    )
                })?;
                Ok(s.offset + i)
            }
            None => {
                let hits: Vec<(usize, usize)> = self
                    .sources
                    .iter()
                    .enumerate()
                    .filter_map(|(si, s)| s.table.column_index(name).map(|i| (si, s.offset + i)))
                    .collect();
                match hits.as_slice() {
                    [] => Err(err(
                        ErrorKind::UnknownColumn,
                        format!("no such column: {name} (at {pos})"),
                    )),
                    [(_, slot)] => Ok(*slot),
                    _ => Err(err(
                        ErrorKind::UnknownColumn,
                        format!(
                            "ambiguous column name: {name} (at {pos}); qualify it with {}",
                            hits.iter()
                                .map(|(si, _)| self.sources[*si].name.as_str())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    )),
                }
            }
        }
    }

    fn slot_type(&self, slot: Slot) -> ColumnType {
        let s = self
            .sources
            .iter()
            .rev()
            .find(|s| s.offset <= slot)
            .expect("slot in range");
        s.table.columns()[slot - s.offset].ty
    }

    fn slot_name(&self, slot: Slot) -> String {
        let s = self
            .sources
            .iter()
            .rev()
            .find(|s| s.offset <= slot)
            .expect("slot in range");
        format!("{}.{}", s.name, s.table.columns()[slot - s.offset].name)
    }

    /// A scalar operand of a predicate.
    fn scalar(&mut self, e: &Expr) -> Result<Scalar> {
        match e {
            Expr::Column {
                qualifier,
                name,
                pos,
            } => Ok(Scalar::Col(self.column(qualifier, name, *pos)?)),
            Expr::Literal { value, .. } => Ok(Scalar::Const(value.clone())),
            Expr::Param { index, pos } => {
                if self.params[*index].pos == Pos::default() {
                    self.params[*index].pos = *pos;
                }
                Ok(Scalar::Param(*index))
            }
            Expr::Now { minus_ms, .. } => Ok(Scalar::Now(*minus_ms)),
            Expr::Aggregate { pos, .. } => Err(unsupported("aggregate inside a condition", *pos)),
            other => Err(unsupported("a condition used as a value", other.pos())),
        }
    }

    fn class(&self, s: &Scalar) -> Option<Class> {
        match s {
            Scalar::Col(c) => Some(class_of_type(self.slot_type(*c))),
            Scalar::Const(v) => class_of_value(v),
            Scalar::Now(_) => Some(Class::Num),
            Scalar::Param(_) => None,
        }
    }

    fn describe(&self, s: &Scalar) -> String {
        match s {
            Scalar::Col(c) => format!("column {}", self.slot_name(*c)),
            Scalar::Const(v) => format!("{} value {}", v.type_name(), v),
            Scalar::Now(_) => "CURRENT_TIMESTAMP".into(),
            Scalar::Param(i) => format!("parameter {}", i + 1),
        }
    }

    /// Checks that `a` and `b` may be compared; gives parameters their required kind.
    fn compatible(&mut self, a: &Scalar, b: &Scalar, pos: Pos) -> Result<()> {
        match (self.class(a), self.class(b)) {
            (Some(x), Some(y)) if x != y => Err(err(
                ErrorKind::TypeMismatch,
                format!(
                    "cannot compare {} ({}) with {} ({}) (at {pos})",
                    self.describe(a),
                    class_name(x),
                    self.describe(b),
                    class_name(y)
                ),
            )),
            (Some(x), None) => {
                self.constrain(b, x, a);
                Ok(())
            }
            (None, Some(y)) => {
                self.constrain(a, y, b);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn constrain(&mut self, s: &Scalar, c: Class, other: &Scalar) {
        if let Scalar::Param(i) = s {
            if self.params[*i].kind == ParamKind::Any {
                self.params[*i].kind = if c == Class::Num {
                    ParamKind::Number
                } else {
                    ParamKind::Text
                };
                self.params[*i].context = self.describe(other);
            }
        }
    }

    fn pred(&mut self, e: &Expr, negate: bool) -> Result<Pred> {
        Ok(match e {
            Expr::Cmp {
                op,
                left,
                right,
                pos,
            } => {
                let mut a = self.scalar(left)?;
                let mut b = self.scalar(right)?;
                self.compatible(&a, &b, *pos)?;
                let mut op = if negate { op.negate() } else { *op };
                if !matches!(a, Scalar::Col(_)) && matches!(b, Scalar::Col(_)) {
                    std::mem::swap(&mut a, &mut b);
                    op = op.flip();
                }
                Pred::Cmp(op, a, b)
            }
            Expr::And(x, y) => {
                let (p, q) = (self.pred(x, negate)?, self.pred(y, negate)?);
                if negate {
                    Pred::Or(vec![p, q])
                } else {
                    Pred::And(vec![p, q])
                }
            }
            Expr::Or(x, y) => {
                let (p, q) = (self.pred(x, negate)?, self.pred(y, negate)?);
                if negate {
                    Pred::And(vec![p, q])
                } else {
                    Pred::Or(vec![p, q])
                }
            }
            Expr::Not(x) => self.pred(x, !negate)?,
            Expr::IsNull { expr, negated } => Pred::IsNull {
                x: self.scalar(expr)?,
                negated: *negated != negate,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.scalar(expr)?;
                let mut l = Vec::new();
                for item in list {
                    let s = self.scalar(item)?;
                    self.compatible(&x, &s, item.pos())?;
                    l.push(s);
                }
                Pred::In {
                    x,
                    list: l,
                    negated: *negated != negate,
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.scalar(expr)?;
                let lo = self.scalar(low)?;
                let hi = self.scalar(high)?;
                self.compatible(&x, &lo, low.pos())?;
                self.compatible(&x, &hi, high.pos())?;
                Pred::Between {
                    x,
                    lo,
                    hi,
                    negated: *negated != negate,
                }
            }
            Expr::Column { pos, .. }
            | Expr::Literal { pos, .. }
            | Expr::Param { pos, .. }
            | Expr::Now { pos, .. } => {
                return Err(unsupported(
                    "a bare value as a condition (write a comparison)",
                    *pos,
                ))
            }
            Expr::Aggregate { pos, .. } => {
                return Err(unsupported("aggregate as a condition", *pos))
            }
        })
    }

    /// Finds `customers.id = child.customer_id` among the ON conjuncts and removes it.
    fn join_keys(&self, on: &mut Vec<Pred>, pos: Pos) -> Result<JoinKeys> {
        let (ci, child) = match (self.sources[0].table, self.sources[1].table) {
            (Table::Customers, t) if t != Table::Customers => (0, 1),
            (t, Table::Customers) if t != Table::Customers => (1, 0),
            _ => {
                return Err(unsupported(
                    "a JOIN other than customers with customer_scores, latest_scores or conversation_messages",
                    pos,
                ))
            }
        };
        let id_slot = self.sources[ci].offset; // customers.id is column 0
        let fk_slot = self.sources[child].offset
            + self.sources[child]
                .table
                .column_index("customer_id")
                .expect("child tables have customer_id");
        let at = on.iter().position(|p| match p {
            Pred::Cmp(CmpOp::Eq, Scalar::Col(a), Scalar::Col(b)) => {
                (*a == id_slot && *b == fk_slot) || (*a == fk_slot && *b == id_slot)
            }
            _ => false,
        });
        match at {
            Some(i) => {
                on.remove(i);
                Ok(JoinKeys {
                    customers: ci,
                    child,
                    id_slot,
                    fk_slot,
                })
            }
            None => Err(unsupported(
                format!(
                    "a JOIN condition without `{}.customer_id = {}.id`",
                    self.sources[child].name, self.sources[ci].name
                ),
                pos,
            )),
        }
    }

    fn group_key(&mut self, g: &Expr, sel: &Select) -> Result<Slot> {
        match g {
            Expr::Column {
                qualifier,
                name,
                pos,
            } => match self.column(qualifier, name, *pos) {
                Ok(s) => Ok(s),
                Err(e) if qualifier.is_none() => {
                    // GROUP BY an output alias of a column.
                    for it in &sel.items {
                        if let SelectItem::Expr {
                            expr:
                                Expr::Column {
                                    qualifier: q,
                                    name: n,
                                    pos: p,
                                },
                            alias: Some(a),
                            ..
                        } = it
                        {
                            if a.eq_ignore_ascii_case(name) {
                                return self.column(q, n, *p);
                            }
                        }
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            },
            Expr::Literal {
                value: Value::Int(k),
                pos,
            } => {
                let k = *k;
                match sel.items.get((k as usize).wrapping_sub(1)) {
                    Some(SelectItem::Expr {
                        expr:
                            Expr::Column {
                                qualifier,
                                name,
                                pos,
                            },
                        ..
                    }) if k >= 1 => self.column(qualifier, name, *pos),
                    Some(_) if k >= 1 => Err(unsupported(
                        format!("GROUP BY {k} on a result column that is not a plain column"),
                        *pos,
                    )),
                    _ => Err(err(
                        ErrorKind::InvalidInput,
                        format!("GROUP BY term {k} is out of range (at {pos})"),
                    )),
                }
            }
            other => Err(unsupported(
                "GROUP BY on something other than a column",
                other.pos(),
            )),
        }
    }

    fn agg(
        &mut self,
        func: AggFunc,
        arg: &Option<Box<Expr>>,
        pos: Pos,
        g: &mut Grouping,
    ) -> Result<usize> {
        let arg = match arg.as_deref() {
            None => None,
            Some(Expr::Column {
                qualifier,
                name,
                pos,
            }) => {
                let s = self.column(qualifier, name, *pos)?;
                if matches!(func, AggFunc::Sum | AggFunc::Avg)
                    && class_of_type(self.slot_type(s)) != Class::Num
                {
                    return Err(err(
                        ErrorKind::TypeMismatch,
                        format!(
                            "{}() needs a numeric column; {} is {} (at {pos})",
                            func.sql(),
                            self.slot_name(s),
                            self.slot_type(s).sql_name()
                        ),
                    ));
                }
                Some(s)
            }
            Some(Expr::Literal { value, .. }) if func == AggFunc::Count && !value.is_null() => None,
            Some(other) => {
                return Err(unsupported(
                    format!("{}() of something other than a column", func.sql()),
                    other.pos(),
                ))
            }
        };
        let spec = AggSpec { func, arg };
        let _ = pos;
        let i = match g.aggs.iter().position(|a| *a == spec) {
            Some(i) => i,
            None => {
                g.aggs.push(spec);
                g.aggs.len() - 1
            }
        };
        Ok(g.keys.len() + i)
    }

    /// An output expression; returns it and the source slot it reads, if a plain column.
    fn output(
        &mut self,
        e: &Expr,
        group: Option<&mut Grouping>,
    ) -> Result<(OutExpr, Option<Slot>)> {
        match e {
            Expr::Column {
                qualifier,
                name,
                pos,
            } => {
                let slot = self.column(qualifier, name, *pos)?;
                match group {
                    None => Ok((OutExpr::Post(slot), Some(slot))),
                    Some(g) => match g.keys.iter().position(|&k| k == slot) {
                        Some(i) => Ok((OutExpr::Post(i), Some(slot))),
                        None => Err(unsupported(
                            format!(
                                "column {} outside GROUP BY and outside an aggregate",
                                self.slot_name(slot)
                            ),
                            *pos,
                        )),
                    },
                }
            }
            Expr::Aggregate { func, arg, pos, .. } => match group {
                Some(g) => Ok((OutExpr::Post(self.agg(*func, arg, *pos, g)?), None)),
                None => Err(err(
                    ErrorKind::Internal,
                    "aggregate outside an aggregating query",
                )),
            },
            Expr::Literal { .. } | Expr::Param { .. } | Expr::Now { .. } => {
                Ok((OutExpr::Scalar(self.scalar(e)?), None))
            }
            other => Err(unsupported(
                "this expression in the select list (columns, aggregates and constants only)",
                other.pos(),
            )),
        }
    }

    fn order_target(
        &mut self,
        e: &Expr,
        outputs: &[OutExpr],
        aliases: &[Option<String>],
        group: Option<&mut Grouping>,
    ) -> Result<OutExpr> {
        match e {
            Expr::Literal {
                value: Value::Int(k),
                pos,
            } => match outputs.get((*k as usize).wrapping_sub(1)) {
                Some(o) if *k >= 1 => Ok(o.clone()),
                _ => Err(err(
                    ErrorKind::InvalidInput,
                    format!("ORDER BY term {k} is out of range (at {pos})"),
                )),
            },
            Expr::Column {
                qualifier: None,
                name,
                ..
            } if aliases
                .iter()
                .any(|a| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(name))) =>
            {
                let i = aliases
                    .iter()
                    .position(|a| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(name)))
                    .expect("found");
                Ok(outputs[i].clone())
            }
            Expr::Literal { .. } => Ok(OutExpr::Scalar(Scalar::Const(Value::Null))),
            _ => Ok(self.output(e, group)?.0),
        }
    }

    fn count(&mut self, e: &Expr, what: &str) -> Result<Scalar> {
        match e {
            Expr::Literal {
                value: Value::Int(i),
                ..
            } => Ok(Scalar::Const(Value::Int(*i))),
            Expr::Literal { value, pos } => Err(err(
                ErrorKind::TypeMismatch,
                format!(
                    "{what} needs an integer, got {} {value} (at {pos})",
                    value.type_name()
                ),
            )),
            Expr::Param { index, pos } => {
                self.params[*index].kind = ParamKind::Count;
                self.params[*index].context = what.to_string();
                self.params[*index].pos = *pos;
                Ok(Scalar::Param(*index))
            }
            other => Err(unsupported(
                format!("{what} that is not an integer or a parameter"),
                other.pos(),
            )),
        }
    }
}

/// Checks parameter values against what the query needs.
pub fn check_params(params: &[ParamInfo], values: &[Value]) -> Result<()> {
    if params.len() != values.len() {
        return Err(err(
            ErrorKind::InvalidParameter,
            format!(
                "the statement takes {} parameter(s) but {} were given",
                params.len(),
                values.len()
            ),
        ));
    }
    for (i, (p, v)) in params.iter().zip(values).enumerate() {
        let ok = match p.kind {
            ParamKind::Any => true,
            ParamKind::Number => matches!(v, Value::Null | Value::Int(_) | Value::Real(_)),
            ParamKind::Text => matches!(v, Value::Null | Value::Text(_) | Value::Json(_)),
            ParamKind::Count => matches!(v, Value::Int(_)),
        };
        if !ok {
            let want = match p.kind {
                ParamKind::Number => "a number",
                ParamKind::Text => "text",
                ParamKind::Count => "an integer",
                ParamKind::Any => "any value",
            };
            return Err(err(
                ErrorKind::TypeMismatch,
                format!(
                    "parameter {} (at {}) is {} {v}, but {} needs {want}",
                    i + 1,
                    p.pos,
                    v.type_name(),
                    if p.context.is_empty() {
                        "its place"
                    } else {
                        &p.context
                    }
                ),
            ));
        }
    }
    Ok(())
}
