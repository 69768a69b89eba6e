//! CSV source: a header row names the columns, every later record is one row. Records are
//! read as bytes (`csv::ByteRecord`) so a field that is not UTF-8 rejects only its row;
//! a record with a different number of fields than the header is rejected too. Rows are
//! reported by the physical line they start on (a quoted field may span lines): the csv
//! crate's own position points before skipped blank lines and, with CRLF endings, at the
//! `\n` of the previous line's terminator, so a tap on the input remembers where line
//! terminators are and the line is corrected from them.

use super::batch::Importer;
use super::convert::{map_header, Fields, Raw, Target, MAX_COLS};
use super::{ImportOptions, ImportReport};
use crate::error::{err, Error, ErrorKind, Result};
use crate::schema::Table;
use crate::tenant::Tenant;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// Offsets of the `\r` and `\n` bytes the CSV reader has read and not yet passed
/// (`true` for `\n`). Bounded by the reader's look-ahead plus one record.
type Terminators = Rc<RefCell<VecDeque<(u64, bool)>>>;

/// Passes the input through, noting where line terminators are.
struct Tap<R> {
    inner: R,
    at: u64,
    terms: Terminators,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut q = self.terms.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                q.push_back((self.at + i as u64, b == b'\n'));
            }
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// The physical line a record starts on: csv's line plus the newlines between csv's
/// position and the record's first byte (blank lines, the `\n` of a CRLF).
fn physical_line(terms: &Terminators, p: &csv::Position) -> u64 {
    let mut q = terms.borrow_mut();
    while q.front().is_some_and(|&(o, _)| o < p.byte()) {
        q.pop_front();
    }
    let mut extra = 0;
    for (k, &(o, lf)) in q.iter().enumerate() {
        if o != p.byte() + k as u64 {
            break;
        }
        extra += u64::from(lf);
    }
    p.line() + extra
}

fn read_error(e: csv::Error) -> Error {
    let text = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::with_source(ErrorKind::InvalidInput, "cannot read the CSV input", io),
        _ => err(ErrorKind::InvalidInput, format!("cannot read the CSV input: {text}")),
    }
}

/// Imports CSV from `reader`.
pub(crate) fn import(tenant: &Tenant, table: Table, reader: impl Read, opts: &ImportOptions) -> Result<ImportReport> {
    let mut imp = Importer::new(tenant, table, opts)?;
    let terms = Terminators::default();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(Tap { inner: reader, at: 0, terms: terms.clone() });
    let header = rdr.byte_headers().map_err(read_error)?.clone();
    if header.is_empty() {
        return Err(err(ErrorKind::InvalidInput, "the CSV input is empty: a header row naming the columns is required"));
    }
    let mut names = Vec::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        let name = std::str::from_utf8(h).map_err(|_| {
            err(ErrorKind::InvalidInput, format!("the CSV header's column {} is not valid UTF-8", i + 1))
        })?;
        names.push(name.trim_start_matches('\u{feff}'));
    }
    let (targets, notes) = map_header(table, &names, opts.ignore_unknown_columns)?;
    for n in notes {
        imp.note(n);
    }

    let mut rec = csv::ByteRecord::new();
    while imp.running() {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(imp.fail(read_error(e))),
        }
        let (line, end) = match rec.position() {
            Some(p) => (physical_line(&terms, p), p.byte() + rec.as_slice().len() as u64),
            None => (0, 0),
        };
        match fields(&rec, &targets, &names) {
            Ok(f) => imp.row(line, end, rec.as_slice().len(), &f),
            Err(e) => imp.reject_row(line, end, e),
        }
    }
    imp.finish()
}

/// The fields of one record, by target column.
fn fields<'r>(rec: &'r csv::ByteRecord, targets: &[Target], names: &[&str]) -> Result<Fields<'r>> {
    if rec.len() != targets.len() {
        return Err(err(
            ErrorKind::InvalidInput,
            format!("the row has {} fields; the header has {}", rec.len(), targets.len()),
        ));
    }
    let mut f: Fields<'r> = [None; MAX_COLS];
    for (i, (bytes, target)) in rec.iter().zip(targets).enumerate() {
        let Target::Column(c) = *target else { continue };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            err(
                ErrorKind::InvalidInput,
                format!("field {:?} is not valid UTF-8 (bad byte at offset {})", names[i], e.valid_up_to()),
            )
        })?;
        f[c] = Some(Raw::Text(text));
    }
    Ok(f)
}
