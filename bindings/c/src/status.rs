//! The numbered result of every fallible C function. The numbers and names are those of
//! `cidb::ErrorKind::binding()` (`c_status`, `c_name`), the one table every binding maps
//! from; `CIDB_OK` (0) is the only addition. The enum is written out here because cbindgen
//! reads source, not the table; the tests below fail if the two ever disagree, if a kind is
//! left unmapped, or if the committed header does not hold every value.

use cidb::ErrorKind;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

/// The result of a cidb function. `CIDB_OK` (0) is success; every other value names the
/// kind of failure, and `cidb_last_error_message()` describes it. The numbers are stable:
/// new kinds get new numbers, existing numbers never change meaning.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum cidb_status {
    /// Success.
    CIDB_OK = 0,
    /// A customer, conversation, score type or tenant id is empty, longer than 256 bytes or
    /// holds a NUL character.
    CIDB_INVALID_ID = 1,
    /// A score or confidence is NaN, infinite or outside [0, 1].
    CIDB_INVALID_SCORE = 2,
    /// A message role is not one of user, assistant, system, agent, tool.
    CIDB_INVALID_ROLE = 3,
    /// `attributes` or `metadata` is not a JSON object, or nests arrays and objects more
    /// than 100 levels deep.
    CIDB_INVALID_ATTRIBUTES = 4,
    /// Message content is larger than the configured maximum (1 MiB by default).
    CIDB_CONTENT_TOO_LARGE = 5,
    /// A timestamp is outside 0 ..= 253402300799999 ms since the epoch.
    CIDB_INVALID_TIMESTAMP = 6,
    /// Any other invalid argument: a NULL pointer, text that is not UTF-8, JSON that is not
    /// well formed or not of the expected shape, a label that is too long.
    CIDB_INVALID_INPUT = 7,
    /// A cache key is empty or longer than 1 KiB.
    CIDB_INVALID_CACHE_KEY = 8,
    /// A cache value is larger than the configured maximum.
    CIDB_VALUE_TOO_LARGE = 9,
    /// A TTL of zero or a negative TTL.
    CIDB_INVALID_TTL = 10,
    /// The requested record or object does not exist.
    CIDB_NOT_FOUND = 11,
    /// The object to create already exists.
    CIDB_ALREADY_EXISTS = 12,
    /// The database directory is already open, in this or another process.
    CIDB_ALREADY_OPEN = 13,
    /// The engine was closed (the tenant handle's engine, for tenant functions).
    CIDB_CLOSED = 14,
    /// A unique index would hold the same key twice.
    CIDB_CONSTRAINT_VIOLATION = 15,
    /// SQL text that does not parse.
    CIDB_SQL_SYNTAX = 16,
    /// A table that does not exist.
    CIDB_UNKNOWN_TABLE = 17,
    /// A column that does not exist.
    CIDB_UNKNOWN_COLUMN = 18,
    /// A value of the wrong type for its place (column, parameter, operator).
    CIDB_TYPE_MISMATCH = 19,
    /// A valid SQL construct cidb does not support.
    CIDB_UNSUPPORTED = 20,
    /// A wrong number of parameters, or a parameter that cannot be bound.
    CIDB_INVALID_PARAMETER = 21,
    /// Storage refused work: the circuit breaker is open.
    CIDB_UNAVAILABLE = 22,
    /// The storage layer failed (I/O, commit).
    CIDB_STORAGE = 23,
    /// Stored data failed a consistency check.
    CIDB_CORRUPTED = 24,
    /// Configuration that cannot be used.
    CIDB_CONFIG = 25,
    /// A bug in cidb, or a panic caught at the C boundary.
    CIDB_INTERNAL = 26,
}

impl cidb_status {
    /// Every status, `CIDB_OK` first, then in number order.
    pub const ALL: [cidb_status; 27] = {
        use cidb_status::*;
        [
            CIDB_OK,
            CIDB_INVALID_ID,
            CIDB_INVALID_SCORE,
            CIDB_INVALID_ROLE,
            CIDB_INVALID_ATTRIBUTES,
            CIDB_CONTENT_TOO_LARGE,
            CIDB_INVALID_TIMESTAMP,
            CIDB_INVALID_INPUT,
            CIDB_INVALID_CACHE_KEY,
            CIDB_VALUE_TOO_LARGE,
            CIDB_INVALID_TTL,
            CIDB_NOT_FOUND,
            CIDB_ALREADY_EXISTS,
            CIDB_ALREADY_OPEN,
            CIDB_CLOSED,
            CIDB_CONSTRAINT_VIOLATION,
            CIDB_SQL_SYNTAX,
            CIDB_UNKNOWN_TABLE,
            CIDB_UNKNOWN_COLUMN,
            CIDB_TYPE_MISMATCH,
            CIDB_UNSUPPORTED,
            CIDB_INVALID_PARAMETER,
            CIDB_UNAVAILABLE,
            CIDB_STORAGE,
            CIDB_CORRUPTED,
            CIDB_CONFIG,
            CIDB_INTERNAL,
        ]
    };

    /// The status with number `n`, if there is one.
    pub fn from_raw(n: i32) -> Option<cidb_status> {
        cidb_status::ALL.iter().copied().find(|s| *s as i32 == n)
    }

    /// The status of an error kind, by the kind's `c_status` in the binding table. A kind
    /// whose number has no enumerator (impossible while the tests pass) becomes
    /// `CIDB_INTERNAL` rather than a wrong status.
    pub fn from_kind(kind: ErrorKind) -> cidb_status {
        cidb_status::from_raw(kind.binding().c_status).unwrap_or(cidb_status::CIDB_INTERNAL)
    }

    /// The enumerator's name, from the binding table (`"CIDB_OK"` for success).
    pub fn name(self) -> &'static CStr {
        names()[self as usize].as_c_str()
    }
}

impl From<ErrorKind> for cidb_status {
    fn from(kind: ErrorKind) -> Self {
        cidb_status::from_kind(kind)
    }
}

/// Names indexed by status number, built once from the binding table.
fn names() -> &'static [CString] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    NAMES.get_or_init(|| {
        cidb_status::ALL
            .iter()
            .map(|s| {
                let name = match ErrorKind::from_c_status(*s as i32) {
                    Some(kind) => kind.binding().c_name,
                    None => "CIDB_OK",
                };
                CString::new(name).expect("status names hold no NUL")
            })
            .collect()
    })
}

/// The name of a status, such as `"CIDB_NOT_FOUND"`, or `"CIDB_UNKNOWN_STATUS"` for a
/// number that is not a `cidb_status`. Takes an `int` so any value is safe to pass.
///
/// Ownership: the returned string is static; never free it. It is never NULL.
/// This function does not change the thread's last error.
#[no_mangle]
pub extern "C" fn cidb_status_name(status: c_int) -> *const c_char {
    crate::ffi::boundary_value(c"CIDB_INTERNAL".as_ptr(), || match cidb_status::from_raw(status) {
        Some(s) => s.name().as_ptr(),
        None => c"CIDB_UNKNOWN_STATUS".as_ptr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_error_kind_maps_to_its_own_enumerator_matching_the_table() {
        let mut seen = HashSet::new();
        for kind in ErrorKind::ALL {
            let b = kind.binding();
            let s = cidb_status::from_kind(kind);
            assert_eq!(s as i32, b.c_status, "{kind:?}: enum value differs from the table");
            assert_eq!(format!("{s:?}"), b.c_name, "{kind:?}: enumerator name differs from the table");
            assert_eq!(s.name().to_str().unwrap(), b.c_name);
            assert_ne!(s, cidb_status::CIDB_OK, "{kind:?} maps to success");
            assert!(seen.insert(s), "{kind:?} shares {s:?} with another kind");
        }
        // No enumerator without a kind, except CIDB_OK.
        assert_eq!(seen.len() + 1, cidb_status::ALL.len());
        for (i, s) in cidb_status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "ALL is not in number order at {s:?}");
        }
    }

    #[test]
    fn committed_header_holds_every_status_with_its_number() {
        let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/cidb.h"))
            .expect("include/cidb.h (built by build.rs)");
        let body = header.split("typedef enum cidb_status {").nth(1).expect("cidb_status enum in header");
        let body = body.split('}').next().unwrap();
        let mut entries = Vec::new();
        for line in body.lines().map(str::trim).filter(|l| l.starts_with("CIDB_")) {
            let (name, num) = line.trim_end_matches(',').split_once(" = ").expect("NAME = number");
            entries.push((name.to_string(), num.parse::<i32>().expect("number")));
        }
        assert_eq!(entries.len(), ErrorKind::ALL.len() + 1, "header enum: {entries:?}");
        assert!(entries.contains(&("CIDB_OK".to_string(), 0)));
        for kind in ErrorKind::ALL {
            let b = kind.binding();
            assert!(entries.contains(&(b.c_name.to_string(), b.c_status)), "header lacks {} = {}", b.c_name, b.c_status);
        }
    }

    #[test]
    fn status_name_handles_every_number() {
        for s in cidb_status::ALL {
            let p = cidb_status_name(s as c_int);
            assert_eq!(unsafe { CStr::from_ptr(p) }, s.name());
        }
        for n in [-1, 27, 1000, c_int::MIN, c_int::MAX] {
            assert_eq!(unsafe { CStr::from_ptr(cidb_status_name(n)) }, c"CIDB_UNKNOWN_STATUS");
        }
    }
}
