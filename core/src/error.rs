//! The one error type of cidb. Every failure a user can act on has its own [`ErrorKind`];
//! the kind is `Copy` and is the single key every binding maps from. The table in
//! [`ErrorKind::binding`] is the only place that says what a kind becomes in C (status
//! number), Python (exception class and its builtin base) and Node (`err.code`). This module
//! must not depend on any other cidb module.

use std::fmt;

/// What went wrong, as a value users and bindings can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A customer, conversation or other id is empty or longer than 256 bytes.
    InvalidId,
    /// A score or confidence is NaN, infinite or outside `[0, 1]`.
    InvalidScore,
    /// A message role is not one of `user`, `assistant`, `system`, `agent`, `tool`.
    InvalidRole,
    /// `attributes` or `metadata` is not a JSON object, or nests deeper than 100 levels.
    InvalidAttributes,
    /// Message content is larger than the configured maximum.
    ContentTooLarge,
    /// A timestamp is outside the supported range.
    InvalidTimestamp,
    /// Any other invalid argument (bad option, bad name, bad limit).
    InvalidInput,
    /// A cache key is empty or longer than 1 KiB.
    InvalidCacheKey,
    /// A cache value is larger than the configured maximum.
    ValueTooLarge,
    /// A TTL of zero or a negative TTL.
    InvalidTtl,
    /// The requested record or object does not exist.
    NotFound,
    /// The object to create already exists.
    AlreadyExists,
    /// The database directory is already open (in this or another process).
    AlreadyOpen,
    /// The engine or handle was closed.
    Closed,
    /// A unique index would hold the same key twice.
    ConstraintViolation,
    /// SQL text that does not parse.
    SqlSyntax,
    /// A table that does not exist.
    UnknownTable,
    /// A column that does not exist.
    UnknownColumn,
    /// A value of the wrong type for its place (column, parameter, operator).
    TypeMismatch,
    /// A valid SQL construct cidb does not support.
    Unsupported,
    /// A wrong number of parameters, or a parameter that cannot be bound.
    InvalidParameter,
    /// Storage refused work: the circuit breaker is open.
    Unavailable,
    /// The storage layer failed (I/O, commit, redb error).
    Storage,
    /// Stored data failed a consistency check.
    Corrupted,
    /// Configuration that cannot be used (bad profile, bad file, bad variable).
    Config,
    /// A bug in cidb, or a panic caught at a boundary.
    Internal,
}

/// What one [`ErrorKind`] becomes in each binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingNames {
    /// The C `cidb_status` number (0 is `CIDB_OK`, never an error).
    pub c_status: i32,
    /// The C enumerator name.
    pub c_name: &'static str,
    /// The Python exception class, a subclass of `cidb.Error`.
    pub python_class: &'static str,
    /// The Python builtin the class also derives from (`""` for none).
    pub python_base: &'static str,
    /// The Node `err.code`.
    pub node_code: &'static str,
}

impl ErrorKind {
    /// Every kind, in status order. Tests walk this to prove no kind is unmapped.
    pub const ALL: [ErrorKind; 26] = [
        ErrorKind::InvalidId,
        ErrorKind::InvalidScore,
        ErrorKind::InvalidRole,
        ErrorKind::InvalidAttributes,
        ErrorKind::ContentTooLarge,
        ErrorKind::InvalidTimestamp,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidCacheKey,
        ErrorKind::ValueTooLarge,
        ErrorKind::InvalidTtl,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::AlreadyOpen,
        ErrorKind::Closed,
        ErrorKind::ConstraintViolation,
        ErrorKind::SqlSyntax,
        ErrorKind::UnknownTable,
        ErrorKind::UnknownColumn,
        ErrorKind::TypeMismatch,
        ErrorKind::Unsupported,
        ErrorKind::InvalidParameter,
        ErrorKind::Unavailable,
        ErrorKind::Storage,
        ErrorKind::Corrupted,
        ErrorKind::Config,
        ErrorKind::Internal,
    ];

    /// The mapping table: the one place binding names are decided.
    pub const fn binding(self) -> BindingNames {
        use ErrorKind::*;
        let (c_status, c_name, python_class, python_base, node_code) = match self {
            InvalidId => (1, "CIDB_INVALID_ID", "InvalidIdError", "ValueError", "CIDB_INVALID_ID"),
            InvalidScore => (2, "CIDB_INVALID_SCORE", "InvalidScoreError", "ValueError", "CIDB_INVALID_SCORE"),
            InvalidRole => (3, "CIDB_INVALID_ROLE", "InvalidRoleError", "ValueError", "CIDB_INVALID_ROLE"),
            InvalidAttributes => (4, "CIDB_INVALID_ATTRIBUTES", "InvalidAttributesError", "ValueError", "CIDB_INVALID_ATTRIBUTES"),
            ContentTooLarge => (5, "CIDB_CONTENT_TOO_LARGE", "ContentTooLargeError", "ValueError", "CIDB_CONTENT_TOO_LARGE"),
            InvalidTimestamp => (6, "CIDB_INVALID_TIMESTAMP", "InvalidTimestampError", "ValueError", "CIDB_INVALID_TIMESTAMP"),
            InvalidInput => (7, "CIDB_INVALID_INPUT", "InvalidInputError", "ValueError", "CIDB_INVALID_INPUT"),
            InvalidCacheKey => (8, "CIDB_INVALID_CACHE_KEY", "InvalidCacheKeyError", "ValueError", "CIDB_INVALID_CACHE_KEY"),
            ValueTooLarge => (9, "CIDB_VALUE_TOO_LARGE", "ValueTooLargeError", "ValueError", "CIDB_VALUE_TOO_LARGE"),
            InvalidTtl => (10, "CIDB_INVALID_TTL", "InvalidTtlError", "ValueError", "CIDB_INVALID_TTL"),
            NotFound => (11, "CIDB_NOT_FOUND", "NotFoundError", "KeyError", "CIDB_NOT_FOUND"),
            AlreadyExists => (12, "CIDB_ALREADY_EXISTS", "AlreadyExistsError", "", "CIDB_ALREADY_EXISTS"),
            AlreadyOpen => (13, "CIDB_ALREADY_OPEN", "AlreadyOpenError", "OSError", "CIDB_ALREADY_OPEN"),
            Closed => (14, "CIDB_CLOSED", "ClosedError", "", "CIDB_CLOSED"),
            ConstraintViolation => (15, "CIDB_CONSTRAINT_VIOLATION", "ConstraintViolationError", "", "CIDB_CONSTRAINT_VIOLATION"),
            SqlSyntax => (16, "CIDB_SQL_SYNTAX", "SqlSyntaxError", "ValueError", "CIDB_SQL_SYNTAX"),
            UnknownTable => (17, "CIDB_UNKNOWN_TABLE", "UnknownTableError", "ValueError", "CIDB_UNKNOWN_TABLE"),
            UnknownColumn => (18, "CIDB_UNKNOWN_COLUMN", "UnknownColumnError", "ValueError", "CIDB_UNKNOWN_COLUMN"),
            TypeMismatch => (19, "CIDB_TYPE_MISMATCH", "TypeMismatchError", "TypeError", "CIDB_TYPE_MISMATCH"),
            Unsupported => (20, "CIDB_UNSUPPORTED", "UnsupportedError", "NotImplementedError", "CIDB_UNSUPPORTED"),
            InvalidParameter => (21, "CIDB_INVALID_PARAMETER", "InvalidParameterError", "ValueError", "CIDB_INVALID_PARAMETER"),
            Unavailable => (22, "CIDB_UNAVAILABLE", "UnavailableError", "OSError", "CIDB_UNAVAILABLE"),
            Storage => (23, "CIDB_STORAGE", "StorageError", "OSError", "CIDB_STORAGE"),
            Corrupted => (24, "CIDB_CORRUPTED", "CorruptedError", "", "CIDB_CORRUPTED"),
            Config => (25, "CIDB_CONFIG", "ConfigError", "ValueError", "CIDB_CONFIG"),
            Internal => (26, "CIDB_INTERNAL", "InternalError", "", "CIDB_INTERNAL"),
        };
        BindingNames { c_status, c_name, python_class, python_base, node_code }
    }

    /// Short snake_case name of the kind (stable; used in JSON stats and messages).
    pub fn as_str(self) -> &'static str {
        KIND_NAMES[(self.binding().c_status - 1) as usize]
    }

    /// The kind for a C status number, if any.
    pub fn from_c_status(status: i32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.binding().c_status == status)
    }
}

const KIND_NAMES: [&str; 26] = [
    "invalid_id", "invalid_score", "invalid_role", "invalid_attributes", "content_too_large",
    "invalid_timestamp", "invalid_input", "invalid_cache_key", "value_too_large", "invalid_ttl",
    "not_found", "already_exists", "already_open", "closed", "constraint_violation",
    "sql_syntax", "unknown_table", "unknown_column", "type_mismatch", "unsupported",
    "invalid_parameter", "unavailable", "storage", "corrupted", "config", "internal",
];

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cidb error: a kind, a message naming the problem, and an optional cause.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with cidb's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), source: None }
    }

    /// A new error that keeps its cause.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    /// The kind, for switching on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The cause as text, if there is one.
    pub fn cause_text(&self) -> Option<String> {
        self.source.as_ref().map(|s| s.to_string())
    }

    /// A copy of this error (the cause is kept as text).
    pub fn duplicate(&self) -> Error {
        Error {
            kind: self.kind,
            message: self.message.clone(),
            source: self.cause_text().map(|t| Box::new(TextCause(t)) as _),
        }
    }
}

#[derive(Debug)]
struct TextCause(String);
impl fmt::Display for TextCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for TextCause {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(s) = &self.source {
            write!(f, " (cause: {s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// Shorthand constructor used across the crate: `err(ErrorKind::InvalidId, "...")`.
pub fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::with_source(ErrorKind::Storage, "I/O error", e)
    }
}

macro_rules! storage_from {
    ($($t:ty => $what:literal),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                let kind = if e.to_string().to_ascii_lowercase().contains("corrupt") {
                    ErrorKind::Corrupted
                } else {
                    ErrorKind::Storage
                };
                Error::with_source(kind, $what, e)
            }
        }
    )*};
}
// Each message says which step of the storage layer failed; the cause says why.
storage_from!(
    redb::Error => "storage error",
    redb::TransactionError => "cannot begin a storage transaction",
    redb::TableError => "cannot open a storage table",
    redb::StorageError => "storage read or write failed",
    redb::CommitError => "storage commit failed",
    redb::CompactionError => "storage compaction failed",
    redb::SavepointError => "storage savepoint failed"
);

impl From<redb::DatabaseError> for Error {
    fn from(e: redb::DatabaseError) -> Self {
        match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::new(
                ErrorKind::AlreadyOpen,
                "the database file is already open in this or another process",
            ),
            other => {
                let kind = if other.to_string().to_ascii_lowercase().contains("corrupt") {
                    ErrorKind::Corrupted
                } else {
                    ErrorKind::Storage
                };
                Error::with_source(kind, "cannot open the database file", other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kind_is_mapped_once_and_uniquely() {
        let mut statuses = HashSet::new();
        let mut classes = HashSet::new();
        let mut codes = HashSet::new();
        for k in ErrorKind::ALL {
            let b = k.binding();
            assert!(b.c_status > 0, "{k:?} maps to status 0");
            assert!(statuses.insert(b.c_status), "{k:?} reuses a C status");
            assert!(classes.insert(b.python_class), "{k:?} reuses a Python class");
            assert!(codes.insert(b.node_code), "{k:?} reuses a Node code");
            assert!(b.python_class.ends_with("Error"));
            assert_eq!(ErrorKind::from_c_status(b.c_status), Some(k));
            assert_eq!(format!("CIDB_{}", k.as_str().to_ascii_uppercase()), b.c_name);
        }
        assert_eq!(statuses.len(), ErrorKind::ALL.len());
    }
}
