//! Column-wise results: the rows of a statement stored one column at a time in Arrow's
//! memory layout (a values buffer per column, text as one byte buffer plus offsets, NULLs
//! as a validity bitmap), built straight from the executor's row buffer with no allocation
//! per value. [`Statement::query_columns`](super::Statement::query_columns) returns them;
//! bindings hand the buffers to Arrow without copying and read single values back with
//! [`Column::get`]. The exact SQL type of every value is kept: a column that mixes types
//! Arrow cannot hold in one array (INTEGER with REAL, TEXT with JSON, numbers with text)
//! falls back to a plain list of [`Value`]s.

use super::result::ExecStats;
use crate::schema::{Row, Value};

/// A value borrowed from a [`Column`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// A JSON document's text.
    Json(&'a str),
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> ValueRef<'a> {
        match v {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s),
            Value::Json(s) => ValueRef::Json(s),
        }
    }
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
            ValueRef::Json(s) => Value::Json(s.to_owned()),
        }
    }
}

/// Offsets of a text column: entry `i` is where value `i` starts in the byte buffer, and
/// there is one entry more than values. 32-bit (Arrow `Utf8`) until the bytes outgrow
/// `i32::MAX`, then 64-bit (`LargeUtf8`).
#[derive(Debug, Clone, PartialEq)]
pub enum Offsets {
    /// 32-bit offsets.
    Small(Vec<i32>),
    /// 64-bit offsets.
    Large(Vec<i64>),
}

impl Offsets {
    #[inline]
    fn push(&mut self, end: usize) {
        match self {
            Offsets::Small(o) => match i32::try_from(end) {
                Ok(e) => o.push(e),
                Err(_) => {
                    let mut big: Vec<i64> = o.iter().map(|&x| x as i64).collect();
                    big.push(end as i64);
                    *self = Offsets::Large(big);
                }
            },
            Offsets::Large(o) => o.push(end as i64),
        }
    }

    #[inline]
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        match self {
            Offsets::Small(o) => o[i] as usize..o[i + 1] as usize,
            Offsets::Large(o) => o[i] as usize..o[i + 1] as usize,
        }
    }
}

/// The values of one column (see [`Column`] for NULLs).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// No non-NULL value (every value is NULL).
    Null,
    /// INTEGER values (0 where NULL).
    Int(Vec<i64>),
    /// REAL values (0.0 where NULL).
    Real(Vec<f64>),
    /// TEXT, or JSON documents when `json`; NULLs are empty.
    Text {
        /// True when the values are JSON documents.
        json: bool,
        /// Start of each value in `data`, plus the end.
        offsets: Offsets,
        /// The UTF-8 bytes of all values, back to back.
        data: Vec<u8>,
    },
    /// Values of more than one type.
    Mixed(Vec<Value>),
}

/// One result column: its values and a validity bitmap (bit `i`, least significant bit
/// first, is 1 when value `i` is not NULL), absent while the column has no NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    data: ColumnData,
    validity: Option<Vec<u8>>,
    nulls: usize,
    len: usize,
}

impl Default for Column {
    fn default() -> Column {
        Column::new()
    }
}

impl Column {
    /// An empty column.
    pub fn new() -> Column {
        Column {
            data: ColumnData::Null,
            validity: None,
            nulls: 0,
            len: 0,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the column has no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of NULLs.
    pub fn null_count(&self) -> usize {
        self.nulls
    }

    /// The values.
    pub fn data(&self) -> &ColumnData {
        &self.data
    }

    /// The validity bitmap (at least `len().div_ceil(8)` bytes), or None when no value is
    /// NULL. Always None for [`ColumnData::Null`] and [`ColumnData::Mixed`] columns.
    pub fn validity(&self) -> Option<&[u8]> {
        match self.data {
            ColumnData::Null | ColumnData::Mixed(_) => None,
            _ => self.validity.as_deref(),
        }
    }

    /// Value `i` (panics when `i >= len()`).
    #[inline]
    pub fn get(&self, i: usize) -> ValueRef<'_> {
        assert!(i < self.len, "column index {i} out of range (len {})", self.len);
        if let Some(v) = &self.validity {
            if v[i / 8] & (1 << (i % 8)) == 0 && !matches!(self.data, ColumnData::Mixed(_)) {
                return ValueRef::Null;
            }
        }
        match &self.data {
            ColumnData::Null => ValueRef::Null,
            ColumnData::Int(v) => ValueRef::Int(v[i]),
            ColumnData::Real(v) => ValueRef::Real(v[i]),
            ColumnData::Text {
                json,
                offsets,
                data,
            } => {
                let b = &data[offsets.range(i)];
                // Only whole `&str`s were ever appended, so every range is UTF-8.
                let s = std::str::from_utf8(b).unwrap_or_default();
                if *json {
                    ValueRef::Json(s)
                } else {
                    ValueRef::Text(s)
                }
            }
            ColumnData::Mixed(v) => ValueRef::from(&v[i]),
        }
    }

    #[inline]
    fn mark(&mut self, valid: bool) {
        let i = self.len;
        match &mut self.validity {
            None if valid => {}
            None => {
                // First NULL: every earlier value was valid.
                let mut bits = vec![0xFFu8; i / 8];
                bits.push(((1u16 << (i % 8)) - 1) as u8);
                self.validity = Some(bits);
            }
            Some(bits) => {
                if i / 8 >= bits.len() {
                    bits.push(0);
                }
                if valid {
                    bits[i / 8] |= 1 << (i % 8);
                }
            }
        }
        if !valid {
            self.nulls += 1;
        }
        self.len += 1;
    }

    /// Turns the column into a list of values (when a second type shows up).
    fn make_mixed(&mut self) {
        let vals: Vec<Value> = (0..self.len).map(|i| self.get(i).to_value()).collect();
        self.data = ColumnData::Mixed(vals);
    }

    /// Starts typed storage for the first non-NULL value, after `len` NULLs.
    fn start(&mut self, v: ValueRef<'_>) {
        let n = self.len;
        self.data = match v {
            ValueRef::Int(_) => ColumnData::Int(vec![0; n]),
            ValueRef::Real(_) => ColumnData::Real(vec![0.0; n]),
            ValueRef::Text(_) | ValueRef::Json(_) => ColumnData::Text {
                json: matches!(v, ValueRef::Json(_)),
                offsets: Offsets::Small(vec![0; n + 1]),
                data: Vec::new(),
            },
            ValueRef::Null => ColumnData::Null,
        };
    }

    /// Reserves room for `rows` more values, and for `bytes` more text bytes when the
    /// column holds text.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        match &mut self.data {
            ColumnData::Null => {}
            ColumnData::Int(d) => d.reserve(rows),
            ColumnData::Real(d) => d.reserve(rows),
            ColumnData::Text { offsets, data, .. } => {
                match offsets {
                    Offsets::Small(o) => o.reserve(rows),
                    Offsets::Large(o) => o.reserve(rows),
                }
                data.reserve(bytes);
            }
            ColumnData::Mixed(d) => d.reserve(rows),
        }
        if let Some(v) = &mut self.validity {
            v.reserve(rows.div_ceil(8));
        }
    }

    /// Bytes of text held (0 for other columns).
    fn text_bytes(&self) -> usize {
        match &self.data {
            ColumnData::Text { data, .. } => data.len(),
            _ => 0,
        }
    }

    /// Appends one value.
    #[inline]
    pub fn push(&mut self, v: ValueRef<'_>) {
        if matches!(self.data, ColumnData::Null) && !matches!(v, ValueRef::Null) {
            self.start(v);
        }
        let fits = match (&mut self.data, v) {
            (ColumnData::Null, ValueRef::Null) => true,
            (ColumnData::Int(d), ValueRef::Int(x)) => {
                d.push(x);
                true
            }
            (ColumnData::Int(d), ValueRef::Null) => {
                d.push(0);
                true
            }
            (ColumnData::Real(d), ValueRef::Real(x)) => {
                d.push(x);
                true
            }
            (ColumnData::Real(d), ValueRef::Null) => {
                d.push(0.0);
                true
            }
            (ColumnData::Text { json, offsets, data }, ValueRef::Text(s) | ValueRef::Json(s))
                if *json == matches!(v, ValueRef::Json(_)) =>
            {
                data.extend_from_slice(s.as_bytes());
                offsets.push(data.len());
                true
            }
            (ColumnData::Text { offsets, data, .. }, ValueRef::Null) => {
                offsets.push(data.len());
                true
            }
            (ColumnData::Mixed(d), v) => {
                d.push(v.to_value());
                true
            }
            _ => false,
        };
        if !fits {
            self.make_mixed();
            if let ColumnData::Mixed(d) = &mut self.data {
                d.push(v.to_value());
            }
        }
        self.mark(!matches!(v, ValueRef::Null));
    }
}

impl Column {
    /// Appends every value of `other` (as if each were pushed, but buffers of the same
    /// type are copied whole).
    pub fn append(&mut self, other: Column) {
        if other.len == 0 {
            return;
        }
        if self.len == 0 {
            *self = other;
            return;
        }
        let base = self.len;
        let same = match (&mut self.data, &other.data) {
            (ColumnData::Null, ColumnData::Null) => true,
            (ColumnData::Int(a), ColumnData::Int(b)) => {
                a.extend_from_slice(b);
                true
            }
            (ColumnData::Real(a), ColumnData::Real(b)) => {
                a.extend_from_slice(b);
                true
            }
            (
                ColumnData::Text { json: ja, offsets: oa, data: da },
                ColumnData::Text { json: jb, offsets: ob, data: db },
            ) if ja == jb => {
                let shift = da.len();
                da.extend_from_slice(db);
                match (&mut *oa, ob) {
                    (Offsets::Small(a), Offsets::Small(b)) if i32::try_from(da.len()).is_ok() => {
                        let shift = shift as i32;
                        a.extend(b[1..].iter().map(|o| o + shift));
                    }
                    _ => {
                        for i in 1..=other.len {
                            oa.push(shift + ob.range(i - 1).end);
                        }
                    }
                }
                true
            }
            (ColumnData::Mixed(a), ColumnData::Mixed(b)) => {
                a.extend_from_slice(b);
                true
            }
            _ => false,
        };
        if !same {
            for i in 0..other.len {
                self.push(other.get(i));
            }
            return;
        }
        if self.validity.is_some() || other.validity.is_some() {
            let total = base + other.len;
            let bits = self.validity.get_or_insert_with(|| vec![0xFF; base.div_ceil(8)]);
            bits.truncate(base.div_ceil(8));
            if !base.is_multiple_of(8) {
                // Clear the unused high bits of the last byte before or-ing into them.
                let last = bits.len() - 1;
                bits[last] &= ((1u16 << (base % 8)) - 1) as u8;
            }
            bits.resize(total.div_ceil(8), 0);
            let valid = |i: usize| other.validity.as_ref().is_none_or(|v| v[i / 8] & (1 << (i % 8)) != 0);
            if base.is_multiple_of(8) {
                match &other.validity {
                    Some(v) => bits[base / 8..].copy_from_slice(&v[..other.len.div_ceil(8)]),
                    None => bits[base / 8..].fill(0xFF),
                }
            } else {
                for i in 0..other.len {
                    if valid(i) {
                        let j = base + i;
                        bits[j / 8] |= 1 << (j % 8);
                    }
                }
            }
            // Bits past the last value stay 0 (`mark` only ever sets bits).
            if !total.is_multiple_of(8) {
                let last = bits.len() - 1;
                bits[last] &= ((1u16 << (total % 8)) - 1) as u8;
            }
        }
        self.nulls += other.nulls;
        self.len += other.len;
    }
}

/// The rows of a statement, column by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    /// Output column names.
    pub names: Vec<String>,
    /// One column per name, all of length `rows`.
    pub columns: Vec<Column>,
    /// Number of rows.
    pub rows: usize,
    /// Execution statistics.
    pub stats: ExecStats,
    /// Rows expected in all (see `expect_rows`); 0 when unknown.
    expected: usize,
}

/// Rows after which `push_row` sizes the buffers for the expected total.
const SAMPLE_ROWS: usize = 1024;

impl Columns {
    /// Empty columns named `names`.
    pub fn new(names: Vec<String>) -> Columns {
        let columns = names.iter().map(|_| Column::new()).collect();
        Columns {
            names,
            columns,
            rows: 0,
            stats: ExecStats::default(),
            expected: 0,
        }
    }

    /// Announces about how many rows will be pushed (a planner estimate is fine): once the
    /// first rows have shown the columns' types and text sizes, every buffer is reserved
    /// for that total at once, instead of doubling and copying as it grows. A wrong
    /// guess only costs memory or later growth, never correctness.
    pub fn expect_rows(&mut self, rows: usize) {
        self.expected = rows;
    }

    /// Appends one row given as one value per column.
    #[inline]
    pub fn push_row<'v>(&mut self, values: impl IntoIterator<Item = ValueRef<'v>>) {
        for (c, v) in self.columns.iter_mut().zip(values) {
            c.push(v);
        }
        self.end_row();
    }

    /// Counts one row whose values were pushed to every column directly (through
    /// `columns`); sizes the buffers like [`Columns::push_row`] does.
    #[inline]
    pub fn end_row(&mut self) {
        self.rows += 1;
        if self.rows == SAMPLE_ROWS && self.expected > 2 * SAMPLE_ROWS {
            let more = self.expected - SAMPLE_ROWS;
            for c in &mut self.columns {
                // Text: the sample's mean size, plus an eighth.
                let bytes = (c.text_bytes() / SAMPLE_ROWS + 1).saturating_mul(more) / 8 * 9;
                c.reserve(more, bytes);
            }
        }
    }

    /// Appends rows (each at least as wide as the columns).
    pub fn extend_rows(&mut self, rows: &[Row]) {
        for r in rows {
            self.push_row(r.iter().map(ValueRef::from));
        }
    }

    /// Appends the rows of `other` (columns of the same names, in the same order).
    pub fn append(&mut self, other: Columns) {
        for (c, o) in self.columns.iter_mut().zip(other.columns) {
            c.append(o);
        }
        self.rows += other.rows;
    }

    /// Value of `row`, `col`.
    pub fn get(&self, row: usize, col: usize) -> ValueRef<'_> {
        self.columns[col].get(row)
    }

    /// Row `i` as owned values.
    pub fn row(&self, i: usize) -> Row {
        self.columns.iter().map(|c| c.get(i).to_value()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            3 => Just(Value::Null),
            2 => any::<i64>().prop_map(Value::Int),
            1 => any::<f64>().prop_map(Value::Real),
            2 => ".{0,12}".prop_map(Value::Text),
            1 => "[a-z]{0,5}".prop_map(|s| Value::Json(format!("\"{s}\""))),
        ]
    }

    /// Columns of one value kind (plus NULLs), or anything: both must read back exactly.
    fn column() -> impl Strategy<Value = Vec<Value>> {
        let kind = |v: BoxedStrategy<Value>| proptest::collection::vec(prop_oneof![Just(Value::Null), v], 0..40);
        prop_oneof![
            kind(any::<i64>().prop_map(Value::Int).boxed()),
            kind(any::<f64>().prop_map(Value::Real).boxed()),
            kind(".{0,12}".prop_map(Value::Text).boxed()),
            kind("[a-z]{0,5}".prop_map(|s| Value::Json(format!("[\"{s}\"]"))).boxed()),
            proptest::collection::vec(value(), 0..40),
        ]
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn values_read_back_exactly(vals in column()) {
            let mut c = Column::new();
            for v in &vals {
                c.push(ValueRef::from(v));
            }
            prop_assert_eq!(c.len(), vals.len());
            prop_assert_eq!(c.null_count(), vals.iter().filter(|v| v.is_null()).count());
            for (i, v) in vals.iter().enumerate() {
                prop_assert!(same(&c.get(i).to_value(), v), "{i}: {:?} vs {:?}", c.get(i), v);
            }
            let kinds: std::collections::HashSet<&str> =
                vals.iter().filter(|v| !v.is_null()).map(|v| v.type_name()).collect();
            let typed = match c.data() {
                ColumnData::Null => kinds.is_empty(),
                ColumnData::Int(d) => kinds.len() == 1 && d.len() == vals.len(),
                ColumnData::Real(d) => kinds.len() == 1 && d.len() == vals.len(),
                ColumnData::Text { offsets: Offsets::Small(o), .. } => kinds.len() == 1 && o.len() == vals.len() + 1,
                ColumnData::Text { .. } => false,
                ColumnData::Mixed(d) => kinds.len() > 1 && d.len() == vals.len(),
            };
            prop_assert!(typed, "{:?} for kinds {:?}", c.data(), kinds);
            if let Some(bits) = c.validity() {
                prop_assert!(bits.len() >= vals.len().div_ceil(8));
                for (i, v) in vals.iter().enumerate() {
                    prop_assert_eq!(bits[i / 8] & (1 << (i % 8)) != 0, !v.is_null());
                }
            } else if !matches!(c.data(), ColumnData::Null | ColumnData::Mixed(_)) {
                prop_assert_eq!(c.null_count(), 0);
            }
        }
    }

    proptest! {
        #[test]
        fn append_is_pushing_one_by_one(a in column(), b in column(), cut in 0usize..40) {
            // Both halves of one column (same kinds), and two unrelated columns.
            let cut = cut.min(a.len());
            for (x, y) in [(&a[..cut], &a[cut..]), (&a[..], &b[..])] {
                let mut want = Column::new();
                let (mut left, mut right) = (Column::new(), Column::new());
                for v in x {
                    want.push(ValueRef::from(v));
                    left.push(ValueRef::from(v));
                }
                for v in y {
                    want.push(ValueRef::from(v));
                    right.push(ValueRef::from(v));
                }
                left.append(right);
                prop_assert_eq!(left.len(), want.len());
                prop_assert_eq!(left.null_count(), want.null_count());
                for i in 0..want.len() {
                    prop_assert!(same(&left.get(i).to_value(), &want.get(i).to_value()), "{i}");
                }
                prop_assert_eq!(left.validity().map(|v| v[..want.len().div_ceil(8)].to_vec()),
                                want.validity().map(|v| v[..want.len().div_ceil(8)].to_vec()));
                prop_assert_eq!(std::mem::discriminant(left.data()), std::mem::discriminant(want.data()));
                // Pushing after an append still works.
                left.push(ValueRef::Null);
                want.push(ValueRef::Null);
                prop_assert_eq!(left.get(want.len() - 1), ValueRef::Null);
                prop_assert_eq!(left.null_count(), want.null_count());
            }
        }
    }

    #[test]
    fn rows_in_rows_out() {
        let rows = vec![
            vec![Value::Int(1), Value::Text("a".into()), Value::Null],
            vec![Value::Null, Value::Text("".into()), Value::Real(2.5)],
        ];
        let mut c = Columns::new(vec!["a".into(), "b".into(), "c".into()]);
        c.extend_rows(&rows);
        assert_eq!(c.rows, 2);
        assert_eq!(c.row(0), rows[0]);
        assert_eq!(c.row(1), rows[1]);
        assert_eq!(c.get(1, 0), ValueRef::Null);
    }

    #[test]
    fn offsets_grow_to_64_bits() {
        let mut o = Offsets::Small(vec![0]);
        o.push(10);
        o.push(i32::MAX as usize + 5);
        assert_eq!(o, Offsets::Large(vec![0, 10, i32::MAX as i64 + 5]));
        assert_eq!(o.range(1), 10..i32::MAX as usize + 5);
    }
}
