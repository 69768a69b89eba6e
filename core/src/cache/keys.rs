//! Cache keys and versions. Every key starts with a one-byte kind and the tenant (escaped
//! as in storage keys), so a tenant's entries cannot collide with another tenant's: the
//! isolation is in the key, not in a check. The version stripes are what make fills safe:
//! every write bumps the stripe of each key it changes *before* it invalidates, and a fill
//! (a read-through insert, a demotion, a promotion) is refused when the stripe moved since
//! the filler looked, so a value read before a write is never installed after it.

use crate::error::{err, ErrorKind, Result};
use crate::storage::keys::Key;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The largest application cache key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// What a key addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// An application key-value entry.
    App = b'a',
    /// An engine customer record.
    Customer = b'c',
    /// An engine latest-score record.
    Latest = b'l',
    /// A query result.
    Result = b'q',
}

impl Kind {
    /// The kind of an encoded key.
    pub fn of(key: &[u8]) -> Option<Kind> {
        match key.first()? {
            b'a' => Some(Kind::App),
            b'c' => Some(Kind::Customer),
            b'l' => Some(Kind::Latest),
            b'q' => Some(Kind::Result),
            _ => None,
        }
    }
}

/// `kind ‖ tenant ‖ rest`.
pub fn build(kind: Kind, tenant: &str, rest: &[u8]) -> Arc<[u8]> {
    let t = Key::tenant(tenant);
    let mut v = Vec::with_capacity(1 + t.0.len() + rest.len());
    v.push(kind as u8);
    v.extend_from_slice(&t.0);
    v.extend_from_slice(rest);
    v.into()
}

/// Bytes kept inline in a [`RecordKey`]; longer keys go to the heap.
const INLINE_KEY: usize = 120;

/// A key built for one lookup: on the stack when it fits (the common case), so reading
/// a cached record allocates nothing for its key. Derefs to the same bytes [`build`] makes.
pub enum RecordKey {
    /// A short key.
    Inline([u8; INLINE_KEY], u8),
    /// A long key.
    Heap(Vec<u8>),
}

impl std::ops::Deref for RecordKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            RecordKey::Inline(b, n) => &b[..*n as usize],
            RecordKey::Heap(v) => v,
        }
    }
}

/// `kind ‖ tenant ‖ parts...`, each string encoded as a storage key component: equal to
/// `build(kind, tenant, rest)` where `rest` encodes `parts`. Inlined so the key is built in
/// the caller's frame instead of being copied out.
#[inline]
pub fn record_key(kind: Kind, tenant: &str, parts: &[&str]) -> RecordKey {
    // Escaping at most doubles a string, so this bound decides inline vs heap cheaply.
    let bound = 1 + 2 * tenant.len() + 2 + parts.iter().map(|p| 2 * p.len() + 2).sum::<usize>();
    if bound > INLINE_KEY {
        let mut v = Vec::with_capacity(bound);
        v.push(kind as u8);
        for s in std::iter::once(&tenant).chain(parts) {
            crate::storage::keys::push_str(&mut v, s);
        }
        return RecordKey::Heap(v);
    }
    // Filled in place: building a local array and moving it into the enum copied 120
    // bytes per lookup right after writing them (a store-forwarding stall in profiles).
    let mut key = RecordKey::Inline([0u8; INLINE_KEY], 0);
    let RecordKey::Inline(b, len) = &mut key else { unreachable!("just built inline") };
    b[0] = kind as u8;
    let mut at = 1;
    for s in std::iter::once(&tenant).chain(parts) {
        let mut rest = s.as_bytes();
        // Copy whole runs between NULs (ids have none: the common case is one copy).
        while let Some(z) = rest.iter().position(|&x| x == 0) {
            b[at..at + z].copy_from_slice(&rest[..z]);
            b[at + z + 1] = 0xFF; // 00 FF escapes a NUL
            at += z + 2;
            rest = &rest[z + 1..];
        }
        b[at..at + rest.len()].copy_from_slice(rest);
        at += rest.len() + 2; // the 00 00 terminator (already zero)
    }
    *len = at as u8;
    key
}

/// The prefix shared by every key of `kind` for `tenant`.
pub fn tenant_prefix(kind: Kind, tenant: &str) -> Vec<u8> {
    build(kind, tenant, &[]).to_vec()
}

/// Splits an encoded key into (tenant, rest).
pub fn split(key: &[u8]) -> Option<(String, &[u8])> {
    let mut r = crate::storage::keys::KeyReader::new(key.get(1..)?);
    let t = r.str().ok()?;
    let used = key.len() - 1 - r.rest().len();
    Some((t, &key[1 + used..]))
}

/// Checks an application key: 1..=1024 bytes.
pub fn check_app_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(err(ErrorKind::InvalidCacheKey, "cache key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(err(
            ErrorKind::InvalidCacheKey,
            format!("cache key is {} bytes; the limit is {MAX_KEY_BYTES}", key.len()),
        ));
    }
    Ok(())
}

/// Version counters striped by key hash. Collisions only cause extra refusals (never a
/// stale accept), so a fixed array is enough.
pub struct Stripes {
    cells: Box<[AtomicU64]>,
    hasher: foldhash::fast::FixedState,
}

const STRIPES: usize = 1 << 14;

impl Default for Stripes {
    fn default() -> Self {
        Stripes {
            cells: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x7a7a),
        }
    }
}

impl Stripes {
    fn cell(&self, key: &[u8]) -> &AtomicU64 {
        &self.cells[(self.hasher.hash_one(key) as usize) & (STRIPES - 1)]
    }

    /// The current version of `key`'s stripe.
    pub fn get(&self, key: &[u8]) -> u64 {
        self.cell(key).load(Ordering::SeqCst)
    }

    /// Bumps `key`'s stripe; returns the new version.
    pub fn bump(&self, key: &[u8]) -> u64 {
        self.cell(key).fetch_add(1, Ordering::SeqCst) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn record_key_equals_build(t in "\\PC{1,8}\u{0}?", a in "\\PC{0,70}\u{0}?\\PC{0,3}", b in proptest::option::of("[a-z\u{0}]{0,60}")) {
            let mut rest = Key::new();
            rest.str(&a);
            let mut parts = vec![a.as_str()];
            if let Some(b) = &b {
                rest.str(b);
                parts.push(b.as_str());
            }
            for kind in [Kind::Customer, Kind::Latest] {
                let want = build(kind, &t, &rest.0);
                prop_assert_eq!(&*record_key(kind, &t, &parts), &*want);
            }
        }
    }
}
