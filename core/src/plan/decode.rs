//! Row decoding for the executor: reads only the columns a query needs, straight from the
//! archived (rkyv) record, into a reused row buffer whose strings keep their capacity, so a
//! scan that filters most rows out allocates almost nothing. Also decodes index keys and
//! primary-key bytes back into column values for covering (index-only) access.

use super::columns::{Column, ValueRef};
use crate::error::{err, ErrorKind, Result};
use crate::index::keys::decode_value;
use crate::index::stats::{pk_layout, PkPart};
use crate::model::Role;
use crate::schema::{ColumnType, Table, Value};
use crate::storage::keys::KeyReader;
use crate::storage::rowcache::{CachedRow, Cell, RowBuilder};
use crate::storage::records::{ArchivedCustomerRec, ArchivedMessageRec, ArchivedScoreRec};
use rkyv::util::AlignedVec;

/// Sets a slot to text, reusing its allocation.
#[inline]
pub fn set_text(slot: &mut Value, s: &str) {
    match slot {
        Value::Text(t) => {
            t.clear();
            t.push_str(s);
        }
        _ => *slot = Value::Text(s.to_owned()),
    }
}

#[inline]
fn set_json(slot: &mut Value, s: &str) {
    match slot {
        Value::Json(t) => {
            t.clear();
            t.push_str(s);
        }
        _ => *slot = Value::Json(s.to_owned()),
    }
}

#[inline]
fn set_opt(slot: &mut Value, s: Option<&str>) {
    match s {
        Some(s) => set_text(slot, s),
        None => *slot = Value::Null,
    }
}

fn corrupt(e: impl std::fmt::Display) -> crate::Error {
    err(
        ErrorKind::Corrupted,
        format!("stored record failed validation: {e}"),
    )
}

/// Where decoded columns go: the executor's row slots ([`Slots`]) or a row-cache entry
/// ([`RowBuilder`], which takes every column in table order). [`emit_columns`] holds the
/// one record-to-column mapping both use.
trait ColumnSink {
    fn text(&mut self, c: usize, s: &str);
    fn opt(&mut self, c: usize, s: Option<&str>);
    fn json(&mut self, c: usize, s: &str);
    fn int(&mut self, c: usize, i: i64);
    fn real(&mut self, c: usize, r: f64);
    /// The tenant column (implied by the key; not stored in the record).
    fn tenant(&mut self, c: usize);
}

/// The table's slots of the executor's row buffer, strings reusing their allocations.
struct Slots<'a> {
    out: &'a mut [Value],
    tenant: &'a str,
}

impl ColumnSink for Slots<'_> {
    #[inline]
    fn text(&mut self, c: usize, s: &str) {
        set_text(&mut self.out[c], s)
    }
    #[inline]
    fn opt(&mut self, c: usize, s: Option<&str>) {
        set_opt(&mut self.out[c], s)
    }
    #[inline]
    fn json(&mut self, c: usize, s: &str) {
        set_json(&mut self.out[c], s)
    }
    #[inline]
    fn int(&mut self, c: usize, i: i64) {
        self.out[c] = Value::Int(i)
    }
    #[inline]
    fn real(&mut self, c: usize, r: f64) {
        self.out[c] = Value::Real(r)
    }
    #[inline]
    fn tenant(&mut self, c: usize) {
        set_text(&mut self.out[c], self.tenant)
    }
}

/// A row-cache entry: columns arrive in table order, so the position is implied.
impl ColumnSink for RowBuilder {
    #[inline]
    fn text(&mut self, _: usize, s: &str) {
        RowBuilder::text(self, s)
    }
    #[inline]
    fn opt(&mut self, _: usize, s: Option<&str>) {
        RowBuilder::opt(self, s)
    }
    #[inline]
    fn json(&mut self, _: usize, s: &str) {
        RowBuilder::json(self, s)
    }
    #[inline]
    fn int(&mut self, _: usize, i: i64) {
        self.cell(Cell::Int(i))
    }
    #[inline]
    fn real(&mut self, _: usize, r: f64) {
        self.cell(Cell::Real(r))
    }
    #[inline]
    fn tenant(&mut self, _: usize) {
        self.cell(Cell::Tenant)
    }
}

/// Result columns filled straight from the record (a plain scan's column-wise output):
/// columns arrive in output order, so the position is implied, and each value is copied
/// once, from the validated archive into the column's buffer.
struct ColumnsSink<'a> {
    cols: std::slice::IterMut<'a, Column>,
    tenant: &'a str,
}

impl ColumnsSink<'_> {
    #[inline]
    fn push(&mut self, v: ValueRef<'_>) {
        if let Some(c) = self.cols.next() {
            c.push(v)
        }
    }
}

impl ColumnSink for ColumnsSink<'_> {
    #[inline]
    fn text(&mut self, _: usize, s: &str) {
        self.push(ValueRef::Text(s))
    }
    #[inline]
    fn opt(&mut self, _: usize, s: Option<&str>) {
        self.push(s.map_or(ValueRef::Null, ValueRef::Text))
    }
    #[inline]
    fn json(&mut self, _: usize, s: &str) {
        self.push(ValueRef::Json(s))
    }
    #[inline]
    fn int(&mut self, _: usize, i: i64) {
        self.push(ValueRef::Int(i))
    }
    #[inline]
    fn real(&mut self, _: usize, r: f64) {
        self.push(ValueRef::Real(r))
    }
    #[inline]
    fn tenant(&mut self, _: usize) {
        let t = self.tenant;
        self.push(ValueRef::Text(t))
    }
}

/// Validates the stored record in `buf` (a record of `table`) and sends columns `cols`
/// (table positions, each below the table's width) to `sink`: the one mapping from a
/// stored record to SQL columns.
#[inline]
fn emit_columns<S: ColumnSink>(
    table: Table,
    buf: &AlignedVec<16>,
    cols: impl Iterator<Item = usize>,
    sink: &mut S,
) -> Result<()> {
    match table {
        Table::Customers => {
            let r = rkyv::access::<ArchivedCustomerRec, rkyv::rancor::Error>(buf).map_err(corrupt)?;
            for c in cols {
                match c {
                    0 => sink.text(c, &r.id),
                    1 => sink.tenant(c),
                    2 => sink.opt(c, r.email.as_ref().map(|x| x.as_str())),
                    3 => sink.opt(c, r.name.as_ref().map(|x| x.as_str())),
                    4 => sink.text(c, &r.department),
                    5 => sink.text(c, &r.status),
                    6 => sink.int(c, r.created_at.to_native()),
                    7 => sink.int(c, r.updated_at.to_native()),
                    _ => sink.json(c, &r.attributes),
                }
            }
        }
        Table::Scores | Table::LatestScores => {
            let r = rkyv::access::<ArchivedScoreRec, rkyv::rancor::Error>(buf).map_err(corrupt)?;
            for c in cols {
                match c {
                    0 => sink.text(c, &r.customer_id),
                    1 => sink.text(c, &r.score_type),
                    2 => sink.real(c, r.score.to_native()),
                    3 => sink.real(c, r.confidence.to_native()),
                    4 => sink.int(c, r.created_at.to_native()),
                    5 => sink.opt(c, r.model.as_ref().map(|x| x.as_str())),
                    _ => sink.tenant(c),
                }
            }
        }
        Table::Messages => {
            let r = rkyv::access::<ArchivedMessageRec, rkyv::rancor::Error>(buf).map_err(corrupt)?;
            for c in cols {
                match c {
                    0 => sink.int(c, r.id.to_native() as i64),
                    1 => sink.text(c, &r.customer_id),
                    2 => sink.text(c, &r.conversation_id),
                    3 => {
                        let role = Role::ALL
                            .get(r.role as usize)
                            .ok_or_else(|| corrupt("unknown role code"))?;
                        sink.text(c, role.as_str())
                    }
                    4 => sink.int(c, r.timestamp.to_native()),
                    5 => sink.text(c, &r.content),
                    6 => sink.json(c, &r.metadata),
                    _ => sink.tenant(c),
                }
            }
        }
    }
    Ok(())
}

/// Decodes the needed columns of one table's stored records.
pub struct RowDecoder {
    table: Table,
    /// Needed column positions of the table.
    cols: Vec<usize>,
    buf: AlignedVec<16>,
}

impl RowDecoder {
    /// A decoder of `table` filling the columns where `need[col]` is true.
    pub fn new(table: Table, need: &[bool]) -> RowDecoder {
        let cols = (0..table.columns().len()).filter(|&c| need[c]).collect();
        RowDecoder {
            table,
            cols,
            buf: AlignedVec::new(),
        }
    }

    /// True when no column has to be read from the record.
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// The needed column positions.
    pub fn cols(&self) -> &[usize] {
        &self.cols
    }

    /// Every column of a stored record, decoded for a [`RowCache`](crate::storage::rowcache::RowCache)
    /// (the tenant column as [`Cell::Tenant`]).
    pub fn decode_cached(&mut self, bytes: &[u8]) -> Result<CachedRow> {
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        let width = self.table.columns().len();
        let mut b = RowBuilder::new(width, bytes.len());
        emit_columns(self.table, &self.buf, 0..width, &mut b)?;
        Ok(b.finish())
    }

    /// Fills `out` (the table's slots) from the stored bytes of a row of `tenant`.
    pub fn decode(&mut self, tenant: &str, bytes: &[u8], out: &mut [Value]) -> Result<()> {
        if self.cols.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        let mut sink = Slots { out, tenant };
        emit_columns(self.table, &self.buf, self.cols.iter().copied(), &mut sink)
    }
}

/// Appends one stored record of `table` to `cols` as one value per column: column `j`
/// of `cols` gets table column `outs[j]` (`outs` as long as `cols`, each position below
/// the table's width). A record that fails validation is an error with nothing appended
/// (a bad message role code may leave the row part-appended: the caller drops the
/// columns on any error); on success the caller ends the row (see
/// [`Columns::end_row`](super::columns::Columns::end_row)).
pub fn decode_into_columns(
    table: Table,
    buf: &mut AlignedVec<16>,
    tenant: &str,
    bytes: &[u8],
    outs: &[usize],
    cols: &mut [Column],
) -> Result<()> {
    buf.clear();
    buf.extend_from_slice(bytes);
    let mut sink = ColumnsSink { cols: cols.iter_mut(), tenant };
    emit_columns(table, buf, outs.iter().copied(), &mut sink)
}

/// Decodes primary-key bytes (after the tenant) into the key's columns.
pub fn decode_pk(table: Table, pk: &[u8], out: &mut [Value]) -> Result<()> {
    let mut r = KeyReader::new(pk);
    for part in pk_layout(table) {
        match part {
            PkPart::Str(c) => match &mut out[*c] {
                Value::Text(t) => r.str_into(t)?,
                slot => *slot = Value::Text(r.str()?),
            },
            PkPart::I64(c) => out[*c] = Value::Int(r.i64()?),
            PkPart::U64(c) => out[*c] = Value::Int(r.u64()? as i64),
            PkPart::Seq => {
                r.u64()?;
            }
        }
    }
    Ok(())
}

/// Decodes an index entry's column values into `out` (the table's slots); returns the
/// offset where the primary-key bytes start.
pub fn decode_index_key(
    key: &[u8],
    cols: &[usize],
    types: &[ColumnType],
    out: &mut [Value],
) -> Result<usize> {
    let mut at = crate::index::keys::str_end(key, 0)?;
    for (&c, &t) in cols.iter().zip(types) {
        let (v, end) = decode_value(key, at, t)?;
        out[c] = v;
        at = end;
    }
    Ok(at)
}

/// Offset where the primary-key bytes of an index entry start.
pub fn index_pk_offset(key: &[u8], types: &[ColumnType]) -> Result<usize> {
    let mut at = crate::index::keys::str_end(key, 0)?;
    for &t in types {
        at = crate::index::keys::value_end(key, at, t)?;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Customer, Message, Score};
    use crate::storage::records::{encode, CustomerRec, MessageRec, ScoreRec};

    /// Every column decoded directly and through a cached row, for every column subset
    /// shape (all, each one alone): the same values.
    fn same_both_ways(table: Table, bytes: &[u8]) {
        let width = table.columns().len();
        let mut sets: Vec<Vec<bool>> = vec![vec![true; width]];
        sets.extend((0..width).map(|c| (0..width).map(|i| i == c).collect()));
        for need in sets {
            let mut dec = RowDecoder::new(table, &need);
            let mut direct = vec![Value::Null; width];
            dec.decode("tenant_x", bytes, &mut direct).unwrap();
            let cached = dec.decode_cached(bytes).unwrap();
            assert_eq!(cached.width(), width);
            let mut via = vec![Value::Text("stale".into()); width];
            cached.fill(dec.cols(), "tenant_x", &mut via);
            for c in 0..width {
                if need[c] {
                    assert_eq!(via[c], direct[c], "{table:?} column {c}");
                } else {
                    assert_eq!(via[c], Value::Text("stale".into()), "{table:?} column {c} untouched");
                }
            }
        }
    }

    #[test]
    fn cached_rows_decode_like_records() {
        let mut c = Customer::new("c1", 1_700_000_000_000);
        c.email = Some("a@b.c".into());
        c.department = "sälës".into();
        c.status = "active".into();
        c.attributes = serde_json::json!({"tier": "gold", "n": [1, 2]});
        same_both_ways(Table::Customers, &encode(&CustomerRec::from_model(&c)).unwrap());
        c.name = Some("Ann".into());
        c.email = None;
        same_both_ways(Table::Customers, &encode(&CustomerRec::from_model(&c)).unwrap());
        let s = Score { customer_id: "c1".into(), score_type: "churn".into(), score: 0.25, confidence: 0.5, created_at: 5, model: None };
        same_both_ways(Table::Scores, &encode(&ScoreRec::from_model(&s, 3)).unwrap());
        same_both_ways(Table::LatestScores, &encode(&ScoreRec::from_model(&Score { model: Some("m1".into()), ..s }, 4)).unwrap());
        let m = Message {
            id: 9,
            customer_id: "c1".into(),
            conversation_id: "cv".into(),
            role: crate::model::Role::Tool,
            timestamp: 7,
            content: "hi".into(),
            metadata: serde_json::json!({"k": 1}),
        };
        same_both_ways(Table::Messages, &encode(&MessageRec::from_model(&m)).unwrap());
    }

    #[test]
    fn records_go_straight_into_columns_like_rows() {
        use crate::plan::columns::Columns;
        let mut c = Customer::new("c1", 1_700_000_000_000);
        c.email = Some("a@b.c".into());
        c.attributes = serde_json::json!({"tier": "gold"});
        let good = encode(&CustomerRec::from_model(&c)).unwrap();
        // Any order, repeats, the tenant column, NULLs (name).
        let outs = [8, 0, 1, 3, 2, 0, 6];
        let mut cols = Columns::new(outs.iter().map(|o| o.to_string()).collect());
        let mut buf = AlignedVec::new();
        for _ in 0..2 {
            decode_into_columns(Table::Customers, &mut buf, "tenant_x", &good, &outs, &mut cols.columns).unwrap();
            cols.end_row();
        }
        let mut row = vec![Value::Null; 9];
        RowDecoder::new(Table::Customers, &[true; 9]).decode("tenant_x", &good, &mut row).unwrap();
        set_text(&mut row[1], "tenant_x");
        let want: Vec<Value> = outs.iter().map(|&o| row[o].clone()).collect();
        assert_eq!(cols.rows, 2);
        assert_eq!(cols.row(0), want);
        assert_eq!(cols.row(1), want);
        // A damaged record: an error, and no column grows.
        for cut in [0, good.len() / 2, good.len() - 1] {
            let e = decode_into_columns(Table::Customers, &mut buf, "t", &good[..cut], &outs, &mut cols.columns).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupted);
            assert!(cols.columns.iter().all(|c| c.len() == 2));
        }
    }

    #[test]
    fn a_damaged_record_is_corrupted_not_a_panic() {
        let c = Customer::new("c1", 1);
        let bytes = encode(&CustomerRec::from_model(&c)).unwrap();
        let mut dec = RowDecoder::new(Table::Customers, &[true; 9]);
        let e = dec.decode_cached(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted);
    }
}
