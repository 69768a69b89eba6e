//! Index verification (like PostgreSQL's amcheck): recomputes from the table what an index
//! must hold and compares it with what it holds, in one read snapshot. Tests use it to
//! prove online builds and maintenance exact; operators can run it after a crash.

use super::keys::str_end;
use super::maintain::entries_def;
use crate::engine::Engine;
use crate::error::{err, ErrorKind, Result};
use crate::storage::keys::{Key, KeyReader};
use crate::storage::stores::{decode_row, table_def};
use redb::ReadableTable;
use serde::Serialize;
use std::collections::BTreeSet;

/// The result of [`Engine::check_index`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexCheck {
    /// Entries the index holds.
    pub entries: u64,
    /// Entries the table says it must hold now.
    pub expected: u64,
    /// Rows the index lacks.
    pub missing: u64,
    /// Entries matching no row (or a row that never qualified).
    pub extra: u64,
    /// Sliding-window entries already out of the window, waiting for background expiry.
    pub stale: u64,
}

impl IndexCheck {
    /// True when the index holds exactly the qualifying rows (stale window entries allowed).
    pub fn is_exact(&self) -> bool {
        self.missing == 0 && self.extra == 0
    }
}

/// Verifies the index `name`.
pub fn check(engine: &Engine, name: &str) -> Result<IndexCheck> {
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    let def = snap
        .by_name(name)
        .ok_or_else(|| err(ErrorKind::NotFound, format!("no such index: {name}")))?
        .clone();
    let now = engine.inner.indexes.clock.now();
    let mut expected = BTreeSet::new();
    let mut candidates = BTreeSet::new();
    let mut no_window = def.as_ref().clone();
    no_window
        .predicate
        .retain(|t| !matches!(t, super::def::PredTerm::Window { .. }));
    let mut key = Key::new();
    for item in txn.open_table(table_def(def.table))?.iter()? {
        let (k, v) = item?;
        let kb = k.value();
        let tlen = str_end(kb, 0)?;
        let tenant = KeyReader::new(kb).str()?;
        let row = decode_row(def.table, &tenant, v.value())?;
        if no_window.covers(&row, now) {
            def.entry_key(&tenant, &row, &kb[tlen..], &mut key);
            if def.covers(&row, now) {
                expected.insert(key.0.clone());
            }
            candidates.insert(key.0.clone());
        }
    }
    let name = def.table_name();
    let mut actual = BTreeSet::new();
    for item in txn.open_table(entries_def(&name))?.iter()? {
        actual.insert(item?.0.value().to_vec());
    }
    Ok(IndexCheck {
        entries: actual.len() as u64,
        expected: expected.len() as u64,
        missing: expected.difference(&actual).count() as u64,
        extra: actual.difference(&candidates).count() as u64,
        stale: actual
            .iter()
            .filter(|k| candidates.contains(*k) && !expected.contains(*k))
            .count() as u64,
    })
}
