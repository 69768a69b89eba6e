//! CSV source: a header row names the columns, every later record is one row. Records are
//! read as bytes (`csv::ByteRecord`) so a field that is not UTF-8 rejects only its row;
//! a record with a different number of fields than the header is rejected too. Rows are
//! reported by the physical line they start on (a quoted field may span lines).

use super::batch::Importer;
use super::convert::{map_header, Fields, Raw, Target, MAX_COLS};
use super::{ImportOptions, ImportReport};
use crate::error::{err, Error, ErrorKind, Result};
use crate::schema::Table;
use crate::tenant::Tenant;
use std::io::Read;

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
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(reader);
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
            Some(p) => (p.line(), p.byte() + rec.as_slice().len() as u64),
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
