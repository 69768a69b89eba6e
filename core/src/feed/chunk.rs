//! The stored form of the event log: events are kept in chunks, one redb value per run of
//! consecutive sequence numbers that share a commit time, keyed by the run's first sequence
//! number and zstd-compressed when large enough to gain. One value per chunk instead of one
//! per event makes the log a small fraction of the data file (it holds a copy of every
//! changed row for the retention window) and makes a bulk write's log append cheap.
//!
//! Layout of a chunk value: format byte (0 raw, 1 zstd), the commit time (i64 LE), the event
//! count (u32 LE), the payload's raw length (u32 LE), then the payload: per event its length
//! (u32 LE) and its bytes (`log::encode_change` / `encode_context`).
//!
//! Files written before chunks kept one value per event in the table `feed`; opening one
//! converts that table into chunks in the same transaction that creates the tables.

use crate::error::{err, ErrorKind, Result};
use crate::model::Millis;
use crate::storage::keys::KeyReader;
use redb::{ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};

/// first seq -> chunk of events (see the module doc).
pub const FEED: TableDefinition<u64, &[u8]> = TableDefinition::new("feed_chunks");
/// The per-event table of files written before chunks (converted at open).
const LEGACY: TableDefinition<u64, &[u8]> = TableDefinition::new("feed");

/// Most events in one chunk.
pub const MAX_EVENTS: usize = 512;
/// A chunk is closed once its raw payload reaches this many bytes.
pub const MAX_PAYLOAD: usize = 128 << 10;
/// Payloads below this are stored raw (compression would cost more than it saves).
const COMPRESS_FROM: usize = 1024;
const HEADER: usize = 1 + 8 + 4 + 4;

fn corrupt(what: &str) -> crate::Error {
    err(ErrorKind::Corrupted, format!("stored event chunk is invalid: {what}"))
}

/// Collects events of one commit time into chunks and writes each full one.
pub struct ChunkWriter {
    at: Millis,
    first: u64,
    count: u32,
    payload: Vec<u8>,
}

impl ChunkWriter {
    /// A writer whose first event gets sequence number `first`.
    pub fn new(at: Millis, first: u64) -> ChunkWriter {
        ChunkWriter { at, first, count: 0, payload: Vec::new() }
    }

    /// Adds the next event; writes the chunk when it is full.
    pub fn push(&mut self, t: &mut Table<u64, &[u8]>, event: &[u8]) -> Result<()> {
        self.push_to(event, &mut |first, v| Ok(t.insert(first, v.as_slice()).map(|_| ())?))
    }

    /// [`ChunkWriter::push`] handing each full chunk (its key and value) to `sink`.
    pub fn push_to(&mut self, event: &[u8], sink: &mut impl FnMut(u64, Vec<u8>) -> Result<()>) -> Result<()> {
        let len = u32::try_from(event.len()).map_err(|_| err(ErrorKind::InvalidInput, "change too large for the event log"))?;
        self.payload.extend_from_slice(&len.to_le_bytes());
        self.payload.extend_from_slice(event);
        self.count += 1;
        if self.count as usize >= MAX_EVENTS || self.payload.len() >= MAX_PAYLOAD {
            self.flush_to(sink)?;
        }
        Ok(())
    }

    /// Writes what is collected (nothing when empty).
    pub fn flush(&mut self, t: &mut Table<u64, &[u8]>) -> Result<()> {
        self.flush_to(&mut |first, v| Ok(t.insert(first, v.as_slice()).map(|_| ())?))
    }

    /// [`ChunkWriter::flush`] handing the chunk to `sink`.
    pub fn flush_to(&mut self, sink: &mut impl FnMut(u64, Vec<u8>) -> Result<()>) -> Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let raw_len = u32::try_from(self.payload.len()).map_err(|_| corrupt("payload too large"))?;
        let packed = if self.payload.len() >= COMPRESS_FROM {
            compress(&self.payload).filter(|c| c.len() < self.payload.len())
        } else {
            None
        };
        let body = packed.as_deref().unwrap_or(&self.payload);
        let mut v = Vec::with_capacity(HEADER + body.len());
        v.push(packed.is_some() as u8);
        v.extend_from_slice(&self.at.to_le_bytes());
        v.extend_from_slice(&self.count.to_le_bytes());
        v.extend_from_slice(&raw_len.to_le_bytes());
        v.extend_from_slice(body);
        sink(self.first, v)?;
        self.first += self.count as u64;
        self.count = 0;
        self.payload.clear();
        Ok(())
    }
}

/// A chunk's commit time, read from its header alone.
pub fn chunk_at(value: &[u8]) -> Result<Millis> {
    let b = value.get(1..9).ok_or_else(|| corrupt("truncated header"))?;
    Ok(i64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// A chunk's event count, read from its header alone.
pub fn chunk_len(value: &[u8]) -> Result<u32> {
    let b = value.get(9..13).ok_or_else(|| corrupt("truncated header"))?;
    Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// Calls `f` with each event of a chunk (its index in the chunk and its bytes), in
/// sequence order, until `f` returns false.
pub fn visit_events(value: &[u8], mut f: impl FnMut(u64, &[u8]) -> Result<bool>) -> Result<()> {
    let count = chunk_len(value)? as usize;
    let raw_len = value.get(13..HEADER).ok_or_else(|| corrupt("truncated header"))?;
    let raw_len = u32::from_le_bytes(raw_len.try_into().expect("4 bytes")) as usize;
    let body = &value[HEADER..];
    let unpacked;
    let payload = match value[0] {
        0 => body,
        1 => {
            unpacked = zstd::bulk::decompress(body, raw_len).map_err(|e| corrupt(&format!("decompress: {e}")))?;
            &unpacked[..]
        }
        f => return Err(corrupt(&format!("unknown format {f}"))),
    };
    if payload.len() != raw_len {
        return Err(corrupt("payload length differs from its header"));
    }
    let mut rest = payload;
    for i in 0..count {
        let len = rest.get(..4).ok_or_else(|| corrupt("truncated event length"))?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let ev = rest.get(4..4 + len).ok_or_else(|| corrupt("truncated event"))?;
        if !f(i as u64, ev)? {
            return Ok(());
        }
        rest = &rest[4 + len..];
    }
    if !rest.is_empty() {
        return Err(corrupt("bytes after the last event"));
    }
    Ok(())
}

/// Creates the chunk table and converts a per-event log left by an older version (one
/// chunk per run of consecutive sequence numbers with one commit time), then drops it.
/// Returns how many events were converted.
pub fn create_and_convert(txn: &WriteTransaction) -> Result<u64> {
    let mut t = txn.open_table(FEED)?;
    if !txn.list_tables()?.any(|h| h.name() == LEGACY.name()) {
        return Ok(0);
    }
    let mut n = 0u64;
    {
        let old = txn.open_table(LEGACY)?;
        let mut w: Option<(ChunkWriter, u64)> = None;
        for item in old.iter()? {
            let (k, v) = item?;
            let (seq, bytes) = (k.value(), v.value());
            let at = KeyReader::new(bytes).i64().map_err(|_| corrupt("legacy event without a time"))?;
            match &mut w {
                Some((cw, next)) if *next == seq && cw.at == at => *next += 1,
                _ => {
                    if let Some((cw, _)) = &mut w {
                        cw.flush(&mut t)?;
                    }
                    w = Some((ChunkWriter::new(at, seq), seq + 1));
                }
            }
            let (cw, _) = w.as_mut().expect("set above");
            cw.push(&mut t, bytes)?;
            n += 1;
        }
        if let Some((cw, _)) = &mut w {
            cw.flush(&mut t)?;
        }
    }
    txn.delete_table(LEGACY)?;
    Ok(n)
}

/// Writes `events` (sequence, stored bytes) in the per-event form of older versions, so
/// tests can check the conversion.
/// zstd level 1 with this thread's compression context: a fresh context per chunk costs a
/// large zeroed allocation (page faults) on every commit that logs events.
fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static CTX: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    }
    CTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(1).ok();
        }
        c.as_mut()?.compress(payload).ok()
    })
}

#[cfg(test)]
pub fn write_legacy(txn: &WriteTransaction, events: &[(u64, Vec<u8>)]) -> Result<()> {
    let mut t = txn.open_table(LEGACY)?;
    for (seq, bytes) in events {
        t.insert(*seq, bytes.as_slice())?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;
