//! The persisted event log: events are written in the same transaction as the changes they
//! describe (so a committed change always has its event and a rolled-back one never does),
//! numbered by sequence, stored in chunks ([`super::chunk`]), readable from any sequence for
//! the retention window, and trimmed by age in the background sweep.

use super::event::{row_json, row_key, Event, Op, CONTEXT_TABLE};
use crate::error::{err, ErrorKind, Result};
use crate::model::Millis;
use crate::schema::{ColumnType, Row, Table, Value};
use crate::storage::changes::ContextChange;
use crate::storage::keys::{Key, KeyReader};
use crate::storage::{next_counter, ChangeSet};
use super::chunk::{chunk_at, chunk_len, visit_events, ChunkWriter, FEED, MAX_EVENTS};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

const CONTEXT_CODE: u8 = 255;

/// Creates the log table (converting the per-event log of an older file).
pub fn create_tables(txn: &WriteTransaction) -> Result<()> {
    super::chunk::create_and_convert(txn)?;
    Ok(())
}

fn table_code(t: Table) -> u8 {
    Table::ALL.iter().position(|x| *x == t).unwrap_or(0) as u8
}

fn op_of(old: bool, new: bool) -> Op {
    match (old, new) {
        (false, _) => Op::Insert,
        (true, true) => Op::Update,
        (true, false) => Op::Delete,
    }
}

fn put_row(k: &mut Key, row: Option<&Row>) {
    match row {
        None => {
            k.raw(&[0]);
        }
        Some(r) => {
            k.raw(&[1]);
            for v in r {
                k.value(v);
            }
        }
    }
}

/// The stored form of one event: at, table, tenant, then (flag, row values) for new and old. Rows use the
/// key encoding of values, so no JSON is built on the write path.
fn encode_change(at: Millis, c: &crate::storage::Change, k: &mut Key) {
    k.0.clear();
    k.i64(at).raw(&[table_code(c.table)]).str(&c.tenant);
    put_row(k, c.new.as_ref());
    put_row(k, c.old.as_ref());
}

fn encode_context(at: Millis, c: &ContextChange) -> Vec<u8> {
    let mut k = Key::new();
    k.i64(at).raw(&[CONTEXT_CODE]).str(&c.tenant).str(&c.conversation_id);
    let json = c.new.as_ref().and_then(|x| serde_json::to_string(x).ok());
    k.raw(&[json.is_some() as u8]);
    if let Some(j) = json {
        k.str(&j);
    }
    k.0
}

fn corrupt(what: &str) -> crate::Error {
    err(ErrorKind::Corrupted, format!("stored event is invalid: {what}"))
}

fn get_row(r: &mut KeyReader<'_>, table: Table) -> Result<Option<Row>> {
    let flag = *r.rest().first().ok_or_else(|| corrupt("truncated row flag"))?;
    *r = KeyReader::new(&r.rest()[1..]);
    if flag == 0 {
        return Ok(None);
    }
    let mut row = Vec::with_capacity(table.columns().len());
    for c in table.columns() {
        let tag = *r.rest().first().ok_or_else(|| corrupt("truncated value"))?;
        *r = KeyReader::new(&r.rest()[1..]);
        if tag == 0x01 {
            row.push(Value::Null);
            continue;
        }
        row.push(match c.ty {
            ColumnType::Int => Value::Int(r.i64()?),
            ColumnType::Real => Value::Real(r.f64()?),
            ColumnType::Text => Value::Text(r.str()?),
            ColumnType::Json => Value::Json(r.str()?),
        });
    }
    Ok(Some(row))
}

fn decode(seq: u64, bytes: &[u8]) -> Result<Event> {
    let mut r = KeyReader::new(bytes);
    let at = r.i64()?;
    let code = *r.rest().first().ok_or_else(|| corrupt("truncated table"))?;
    r = KeyReader::new(&r.rest()[1..]);
    let tenant = r.str()?;
    if code == CONTEXT_CODE {
        let conv = r.str()?;
        let has = r.rest().first().copied().unwrap_or(0) == 1;
        r = KeyReader::new(r.rest().get(1..).unwrap_or_default());
        let new = if has {
            Some(serde_json::from_str(&r.str()?).map_err(|e| corrupt(&e.to_string()))?)
        } else {
            None
        };
        let op = if has { Op::Update } else { Op::Delete };
        return Ok(Event { seq, at, tenant, table: CONTEXT_TABLE.into(), op, key: conv, new, old: None });
    }
    let table = *Table::ALL.get(code as usize).ok_or_else(|| corrupt("unknown table"))?;
    let new = get_row(&mut r, table)?;
    let old = get_row(&mut r, table)?;
    Ok(event_of(seq, at, &tenant, table, new.as_ref(), old.as_ref()))
}

fn event_of(seq: u64, at: Millis, tenant: &str, table: Table, new: Option<&Row>, old: Option<&Row>) -> Event {
    let key_row = new.or(old).expect("a change has a row");
    Event {
        seq,
        at,
        tenant: tenant.to_string(),
        table: table.name().to_string(),
        op: op_of(old.is_some(), new.is_some()),
        key: row_key(table, key_row),
        new: new.map(|r| row_json(table, r)),
        old: old.map(|r| row_json(table, r)),
    }
}

/// Row changes from which [`record`] encodes and compresses half of them on a second thread.
const SPLIT_FROM: usize = 4 * MAX_EVENTS;

/// The chunks of `changes` (the first numbered `first`), each as its key and value.
fn chunks_of(changes: &[crate::storage::Change], now: Millis, first: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut w = ChunkWriter::new(now, first);
    let mut buf = Key::new();
    let mut sink = |k: u64, v: Vec<u8>| -> Result<()> {
        out.push((k, v));
        Ok(())
    };
    for c in changes {
        encode_change(now, c, &mut buf);
        w.push_to(buf.as_bytes(), &mut sink)?;
    }
    w.flush_to(&mut sink)?;
    Ok(out)
}

/// Numbers one operation's changes, writes them to the log (when `persist`), and builds
/// live events into `ch.events` (when `live`: someone is subscribed).
pub fn record(txn: &WriteTransaction, ch: &mut ChangeSet, now: Millis, persist: bool, live: bool) -> Result<()> {
    let n = (ch.changes.len() + ch.contexts.len()) as u64;
    if n == 0 {
        return Ok(());
    }
    let first = next_counter(txn, "next_feed_seq", n)?;
    if persist {
        let mut t = txn.open_table(FEED)?;
        let mut w = ChunkWriter::new(now, first);
        let mut buf = Key::new();
        let mut serial = &ch.changes[..];
        if ch.changes.len() >= SPLIT_FROM {
            // A bulk write: the second half (from a chunk boundary) is encoded and compressed
            // on a helper thread meanwhile; its chunks go in after the first half's.
            let mid = ch.changes.len() / 2 / MAX_EVENTS * MAX_EVENTS;
            let (a, b) = ch.changes.split_at(mid);
            let rest = std::thread::scope(|s| -> Result<Vec<(u64, Vec<u8>)>> {
                let h = s.spawn(move || chunks_of(b, now, first + mid as u64));
                for c in a {
                    encode_change(now, c, &mut buf);
                    w.push(&mut t, buf.as_bytes())?;
                }
                w.flush(&mut t)?;
                h.join().unwrap_or_else(|_| Err(err(ErrorKind::Internal, "event log thread panicked")))
            })?;
            for (k, v) in rest {
                t.insert(k, v.as_slice())?;
            }
            w = ChunkWriter::new(now, first + ch.changes.len() as u64);
            serial = &[];
        }
        for c in serial {
            encode_change(now, c, &mut buf);
            w.push(&mut t, buf.as_bytes())?;
        }
        for c in &ch.contexts {
            w.push(&mut t, &encode_context(now, c))?;
        }
        w.flush(&mut t)?;
    }
    if live {
        let mut seq = first;
        let mut events = Vec::with_capacity(n as usize);
        for c in &ch.changes {
            events.push(event_of(seq, now, &c.tenant, c.table, c.new.as_ref(), c.old.as_ref()));
            seq += 1;
        }
        for c in &ch.contexts {
            let op = if c.new.is_some() { Op::Update } else { Op::Delete };
            let new = c.new.as_ref().and_then(|x| serde_json::to_value(x).ok());
            events.push(Event { seq, at: now, tenant: c.tenant.to_string(), table: CONTEXT_TABLE.into(), op, key: c.conversation_id.clone(), new, old: None });
            seq += 1;
        }
        ch.events.extend(events);
    }
    Ok(())
}

/// Events with `seq >= from`, oldest first, at most `limit` (0 = no limit), optionally of
/// one tenant.
pub fn read(txn: &ReadTransaction, from: u64, limit: usize, tenant: Option<&str>) -> Result<Vec<Event>> {
    let t = txn.open_table(FEED)?;
    let mut out = Vec::new();
    // The chunk holding `from` starts at or before it.
    let start = match t.range(..=from)?.next_back() {
        Some(item) => item?.0.value(),
        None => from,
    };
    for item in t.range(start..)? {
        let (k, v) = item?;
        let first = k.value();
        let mut more = true;
        visit_events(v.value(), |i, bytes| {
            let seq = first + i;
            if seq < from {
                return Ok(true);
            }
            let e = decode(seq, bytes)?;
            if tenant.is_none_or(|x| x == e.tenant) {
                out.push(e);
                more = limit == 0 || out.len() < limit;
            }
            Ok(more)
        })?;
        if !more {
            break;
        }
    }
    Ok(out)
}

/// True when the oldest logged event is older than `cutoff` (a read-only peek).
pub fn any_older(txn: &ReadTransaction, cutoff: Millis) -> Result<bool> {
    let t = txn.open_table(FEED)?;
    let first = t.iter()?.next();
    Ok(match first {
        Some(item) => chunk_at(item?.1.value())? < cutoff,
        None => false,
    })
}

/// Deletes the chunks of events older than `cutoff`, oldest first, stopping once at least
/// `limit` events are gone; returns how many events.
pub fn trim(txn: &WriteTransaction, cutoff: Millis, limit: usize) -> Result<usize> {
    let mut t = txn.open_table(FEED)?;
    let mut old = Vec::new();
    let mut events = 0usize;
    for item in t.iter()? {
        let (k, v) = item?;
        if chunk_at(v.value())? >= cutoff || events >= limit {
            break;
        }
        events += chunk_len(v.value())? as usize;
        old.push(k.value());
    }
    for k in &old {
        t.remove(*k)?;
    }
    Ok(events)
}
