//! What a statement returns: column names, rows and execution statistics. The statistics
//! carry what the monitor needs per call (rows examined and returned, index versus table
//! scans, joins, time, a one-line plan summary, tables and indexes read, peak memory).

use crate::schema::Row;
use serde::Serialize;

/// Execution statistics of one statement.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExecStats {
    /// Index entries and table rows visited.
    pub rows_examined: u64,
    /// Rows returned.
    pub rows_returned: u64,
    /// Index or primary-key searches (range scans and point lookups) started.
    pub index_scans: u64,
    /// Full scans of a tenant's table.
    pub table_scans: u64,
    /// Joins executed.
    pub joins: u64,
    /// Wall time, ns.
    pub elapsed_ns: u64,
    /// One-line plan summary (the EXPLAIN lines joined with `; `).
    pub plan: String,
    /// Tables read.
    pub tables: Vec<String>,
    /// Indexes used.
    pub indexes: Vec<String>,
    /// True when a temporary sort (or group) structure was built.
    pub temp_btree: bool,
    /// Estimated peak memory held by the statement (materialised rows, hash tables), bytes.
    pub peak_memory_bytes: u64,
    /// True when the rows came from the query-result cache (nothing was examined).
    pub from_cache: bool,
}

/// The result of a statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    /// Output column names.
    pub columns: Vec<String>,
    /// Output rows.
    pub rows: Vec<Row>,
    /// Execution statistics.
    pub stats: ExecStats,
}
