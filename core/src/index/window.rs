//! Sliding-window expiry: entries of an index with `col > CURRENT_TIMESTAMP - INTERVAL 'N'`
//! whose column value has fallen out of the window are removed in the background (the
//! engine's index thread calls [`expire`] periodically; tests call it through
//! `Engine::expire_index_windows`). Expired keys are found on a read snapshot and removed
//! through the writer in chunks; removing a key twice is harmless, and a key once expired
//! stays expired because time only moves forward.

use super::catalog::CatalogSnap;
use super::def::IndexDef;
use super::keys::{component_ends, decode_value, str_end};
use super::maintain::{entries_def, EntryWriter};
use crate::engine::Engine;
use crate::error::Result;
use crate::schema::Value;
use crate::storage::keys::{prefix_end, Key};
use redb::{ReadTransaction, ReadableTable};

const EXPIRE_CHUNK: usize = 1000;

fn expired(v: &Value, inclusive: bool, cut: i64) -> bool {
    match v {
        Value::Int(t) => {
            if inclusive {
                *t < cut
            } else {
                *t <= cut
            }
        }
        _ => true,
    }
}

/// Up to `limit` expired keys of `def` at time `now`.
fn find_expired(txn: &ReadTransaction, def: &IndexDef, now: i64, limit: usize) -> Result<Vec<Vec<u8>>> {
    let Some((col, inclusive, ms)) = def.window() else {
        return Ok(Vec::new());
    };
    let cut = now.saturating_sub(ms);
    let name = def.table_name();
    let t = txn.open_table(entries_def(&name))?;
    let mut out = Vec::new();
    let pos = def.columns.iter().position(|&c| c == col);
    match pos {
        Some(0) => {
            // Window column leads: per tenant, the expired entries are one key range.
            let mut cursor: Vec<u8> = Vec::new();
            loop {
                let first = match t.range::<&[u8]>(cursor.as_slice()..)?.next() {
                    Some(r) => r?.0.value().to_vec(),
                    None => break,
                };
                let tenant = &first[..str_end(&first, 0)?];
                let mut lo = tenant.to_vec();
                lo.push(0x02);
                let mut hi = Key(lo.clone());
                hi.i64(cut);
                let hi = if inclusive { hi.0 } else { prefix_end(&hi.0) };
                for item in t.range::<&[u8]>(lo.as_slice()..hi.as_slice())? {
                    out.push(item?.0.value().to_vec());
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
                cursor = prefix_end(tenant);
                if cursor.is_empty() {
                    break;
                }
            }
        }
        Some(p) => {
            let types = def.column_types();
            let mut ends = Vec::new();
            for item in t.iter()? {
                let (k, _) = item?;
                let k = k.value();
                component_ends(k, &types, &mut ends)?;
                let (v, _) = decode_value(k, ends[p], types[p])?;
                if expired(&v, inclusive, cut) {
                    out.push(k.to_vec());
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        None => {}
    }
    Ok(out)
}

/// Expiry as the background thread runs it: nothing is removed until some entry has been
/// out of its window for at least `grace_ms`; then every expired entry is ([`expire`]).
/// Each removal is a commit, and a commit retires the shared read snapshot together with
/// its row caches: removing a steady trickle of entries at every tick committed several
/// times a second and kept every reader's caches cold. An entry past the window's edge is
/// never a wrong answer meanwhile: the planner uses a windowed index only for a query
/// whose own lower bound on the column is inside the window, and that bound excludes it.
pub fn expire_batched(engine: &Engine, grace_ms: i64) -> Result<u64> {
    let due = {
        let mgr = &engine.inner.indexes;
        let txn = engine.read()?;
        let snap: std::sync::Arc<CatalogSnap> = mgr.catalog.read(&txn)?;
        let late = mgr.clock.now().saturating_sub(grace_ms);
        let mut due = false;
        for d in snap.indexes.iter().filter(|d| d.window().is_some()) {
            // One key answers "is anything that late?"; `expire` then collects them.
            if !find_expired(&txn, d, late, 1)?.is_empty() {
                due = true;
                break;
            }
        }
        due
    };
    if due {
        expire(engine)
    } else {
        Ok(0)
    }
}

/// Removes every expired sliding-window entry; returns how many left.
pub fn expire(engine: &Engine) -> Result<u64> {
    let mgr = engine.inner.indexes.clone();
    let mut total = 0;
    loop {
        let txn = engine.read()?;
        let snap: std::sync::Arc<CatalogSnap> = mgr.catalog.read(&txn)?;
        let now = mgr.clock.now();
        let mut batch = Vec::new();
        for d in snap.indexes.iter().filter(|d| d.window().is_some()) {
            let keys = find_expired(&txn, d, now, EXPIRE_CHUNK)?;
            if !keys.is_empty() {
                batch.push((d.id, keys));
            }
        }
        drop(txn);
        if batch.is_empty() {
            return Ok(total);
        }
        let m = mgr.clone();
        total += engine.write(move |txn, _| {
            let snap = m.catalog.write(txn)?;
            let mut removed = 0u64;
            for (id, keys) in &batch {
                let Some(def) = snap.by_id(*id) else { continue };
                let mut w = EntryWriter::new(&m.tally, def)?;
                {
                    let name = def.table_name();
                    let mut t = txn.open_table(entries_def(&name))?;
                    for k in keys {
                        removed += w.remove(&mut t, k)? as u64;
                    }
                }
                w.finish(&m.tally);
            }
            Ok(removed)
        })?;
    }
}
