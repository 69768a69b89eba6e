//! CREATE INDEX and DROP INDEX. A build is online: step one records the index as
//! `Building` (from then on the write hook maintains it for every new write), step two
//! backfills existing rows in chunks through the writer (each chunk reads the current rows
//! inside the write transaction, so it never races a concurrent write), step three flips
//! it to `Ready`, the moment the planner may use it. Readers and writers keep going
//! throughout; a UNIQUE violation found by the backfill drops the half-built index.

use super::catalog::{store_def, write_stats, INDEX_STATS, NEXT_INDEX_ID};
use super::def::{IndexDef, IndexState};
use super::keys::str_end;
use super::maintain::{entries_def, EntryWriter};
use super::IndexManager;
use crate::engine::Engine;
use crate::error::{err, ErrorKind, Result};
use crate::sql::ast::CreateIndex;
use crate::storage::keys::{Key, KeyReader};
use crate::storage::next_counter;
use crate::storage::stores::{decode_row, table_def};
use redb::{ReadableTable, WriteTransaction};

use std::ops::Bound;
use std::sync::Arc;

/// Rows copied per backfill transaction: small enough that concurrent writes sharing the
/// group commit are not held up for long.
const BACKFILL_CHUNK: usize = 512;

/// Creates an index; returns false when IF NOT EXISTS found one already.
pub fn create_index(engine: &Engine, ci: &CreateIndex) -> Result<bool> {
    IndexDef::from_create(ci, 0)?; // resolve names and types before touching storage
    let mgr = engine.inner.indexes.clone();
    let m = mgr.clone();
    let ci2 = ci.clone();
    let def = engine.write(move |txn, _| register(&m, txn, &ci2))?;
    let Some(def) = def else { return Ok(false) };
    if let Err(e) = backfill(engine, &mgr, def.id) {
        if e.kind() != ErrorKind::NotFound {
            let _ = drop_by_id(engine, def.id);
        }
        return Err(e);
    }
    let id = def.id;
    let m = mgr.clone();
    engine.write(move |txn, _| mark_ready(&m, txn, id))?;
    Ok(true)
}

/// Finishes builds a crash interrupted: every index still `Building` at open is
/// backfilled again (idempotent: the write hook kept maintaining it meanwhile) and made
/// ready. Runs on the engine's index thread.
pub fn resume_builds(engine: &Engine) -> Result<usize> {
    let mgr = engine.inner.indexes.clone();
    let building: Vec<u32> = {
        let txn = engine.read()?;
        mgr.catalog
            .read(&txn)?
            .indexes
            .iter()
            .filter(|d| d.state == IndexState::Building)
            .map(|d| d.id)
            .collect()
    };
    let mut done = 0;
    for id in building {
        match backfill(engine, &mgr, id) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue, // dropped meanwhile
            Err(e) if e.kind() == ErrorKind::ConstraintViolation => {
                drop_by_id(engine, id)?;
                continue;
            }
            Err(e) => return Err(e),
        }
        let m = mgr.clone();
        match engine.write(move |txn, _| mark_ready(&m, txn, id)) {
            Ok(()) => done += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    mgr.publish(engine.read()?.txn())?;
    Ok(done)
}

/// Creates an index entirely inside one write transaction (used at open, before the
/// engine serves anyone).
pub fn create_index_in(m: &IndexManager, txn: &WriteTransaction, ci: &CreateIndex) -> Result<bool> {
    let Some(def) = register(m, txn, ci)? else {
        return Ok(false);
    };
    let mut after: Option<Vec<u8>> = None;
    while let Some(k) = backfill_chunk(m, txn, def.id, after.as_deref())? {
        after = Some(k);
    }
    mark_ready(m, txn, def.id)?;
    Ok(true)
}

/// Step one: records the index as building (None when IF NOT EXISTS found it).
fn register(
    m: &IndexManager,
    txn: &WriteTransaction,
    ci: &CreateIndex,
) -> Result<Option<IndexDef>> {
    let snap = m.catalog.write(txn)?;
    if snap.by_name(&ci.name).is_some() {
        if ci.if_not_exists {
            return Ok(None);
        }
        return Err(err(
            ErrorKind::AlreadyExists,
            format!("index {} already exists", ci.name),
        ));
    }
    let id = u32::try_from(next_counter(txn, NEXT_INDEX_ID, 1)?)
        .map_err(|_| err(ErrorKind::Internal, "index ids exhausted"))?;
    let def = IndexDef::from_create(ci, id)?;
    txn.open_table(entries_def(&def.table_name()))?;
    store_def(txn, &def)?;
    let zeros = vec![0; def.columns.len() + 1];
    write_stats(txn, id, &zeros)?;
    m.tally.set_distinct(def.table, id, &zeros);
    m.tally.persist_with_commit();
    m.catalog.bump(txn)?;
    Ok(Some(def))
}

/// Step three: makes a complete index visible to the planner.
fn mark_ready(m: &IndexManager, txn: &WriteTransaction, id: u32) -> Result<()> {
    let snap = m.catalog.write(txn)?;
    let mut d = IndexDef::clone(snap.by_id(id).ok_or_else(|| dropped_during_build(id))?);
    d.state = IndexState::Ready;
    store_def(txn, &d)?;
    m.catalog.bump(txn)?;
    Ok(())
}

fn dropped_during_build(id: u32) -> crate::Error {
    err(
        ErrorKind::NotFound,
        format!("index #{id} was dropped while it was being built"),
    )
}

fn backfill(engine: &Engine, mgr: &Arc<IndexManager>, id: u32) -> Result<()> {
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let m = mgr.clone();
        let after = cursor.clone();
        let next = engine.write(move |txn, _| backfill_chunk(&m, txn, id, after.as_deref()))?;
        match next {
            Some(k) => cursor = Some(k),
            None => return Ok(()),
        }
    }
}

/// Indexes up to one chunk of base rows after `after`; returns where to continue.
fn backfill_chunk(
    m: &IndexManager,
    txn: &WriteTransaction,
    id: u32,
    after: Option<&[u8]>,
) -> Result<Option<Vec<u8>>> {
    let snap = m.catalog.write(txn)?;
    let def = snap
        .by_id(id)
        .ok_or_else(|| dropped_during_build(id))?
        .clone();
    let now = m.clock.now();
    let name = def.table_name();
    let mut w = EntryWriter::new(&m.tally, &def)?;
    let mut last = None;
    {
        let base = txn.open_table(table_def(def.table))?;
        let mut ix = txn.open_table(entries_def(&name))?;
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut key = Key::new();
        let mut n = 0;
        for item in base.range::<&[u8]>((lower, Bound::Unbounded))? {
            let (k, v) = item?;
            let kb = k.value();
            let tlen = str_end(kb, 0)?;
            let tenant = KeyReader::new(kb).str()?;
            let row = decode_row(def.table, &tenant, v.value())?;
            if def.covers(&row, now) {
                def.entry_key(&tenant, &row, &kb[tlen..], &mut key);
                w.insert(&mut ix, key.as_bytes(), &row)?;
            }
            n += 1;
            if n >= BACKFILL_CHUNK {
                last = Some(kb.to_vec());
                break;
            }
        }
    }
    w.finish(&m.tally);
    Ok(last)
}

/// Drops an index by name; false when IF EXISTS found none.
pub fn drop_index(engine: &Engine, name: &str, if_exists: bool) -> Result<bool> {
    let m = engine.inner.indexes.clone();
    let name = name.to_string();
    engine.write(move |txn, _| {
        let snap = m.catalog.write(txn)?;
        let Some(def) = snap.by_name(&name).cloned() else {
            if if_exists {
                return Ok(false);
            }
            return Err(err(ErrorKind::NotFound, format!("no such index: {name}")));
        };
        remove(m.as_ref(), txn, &def)?;
        Ok(true)
    })
}

fn remove(m: &IndexManager, txn: &WriteTransaction, def: &IndexDef) -> Result<()> {
    super::catalog::remove_def(txn, &def.name)?;
    txn.open_table(INDEX_STATS)?.remove(def.id)?;
    m.tally.remove_distinct(def.table, def.id);
    m.tally.persist_with_commit();
    txn.delete_table(entries_def(&def.table_name()))?;
    m.catalog.bump(txn)?;
    Ok(())
}

fn drop_by_id(engine: &Engine, id: u32) -> Result<()> {
    let m = engine.inner.indexes.clone();
    engine.write(move |txn, _| {
        let snap = m.catalog.write(txn)?;
        if let Some(def) = snap.by_id(id).cloned() {
            remove(m.as_ref(), txn, &def)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::{Config, Customer, Engine};

    #[test]
    fn a_build_interrupted_by_a_crash_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Engine::open(dir.path(), Config::default().with_seed_indexes(false)).unwrap();
            let t = db.tenant("a").unwrap();
            let cs: Vec<Customer> = (0..1200)
                .map(|i| Customer::new(format!("c{i}"), 5))
                .collect();
            t.upsert_customers(&cs).unwrap();
            // Step one only, as if the process died during the backfill.
            let ci = match crate::sql::parse("CREATE INDEX ix ON customers(created_at)")
                .unwrap()
                .stmt
            {
                crate::sql::ast::Statement::CreateIndex(ci) => ci,
                _ => unreachable!(),
            };
            let m = db.inner.indexes.clone();
            db.write(move |txn, _| super::register(&m, txn, &ci))
                .unwrap();
            let t2 = t.clone();
            t2.upsert_customer(&Customer::new("late", 7)).unwrap();
            let info = db.indexes().unwrap();
            assert!(!info[0].ready);
            db.close().unwrap();
        }
        let db = Engine::open(dir.path(), Config::default()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !db.indexes().unwrap()[0].ready && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let check = db.check_index("ix").unwrap();
        assert!(db.indexes().unwrap()[0].ready);
        assert!(check.is_exact() && check.entries == 1201, "{check:?}");
    }
}
