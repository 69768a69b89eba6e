//! `cidb.Tenant`: one tenant's customers, scores and messages. Each method converts its
//! Python arguments first (with the GIL), runs the core call with the GIL released, then
//! converts the result back. Method names are the Rust names; records are dicts (see
//! `records.rs`), timestamps go in as int ms or `datetime` and come out as UTC `datetime`.
//! Whole areas (cache, change feed, import) are thin methods here over their own module.

use crate::cache::PyCache;
use crate::callback::Unlocked;
use crate::convert::{timestamp, type_name};
use crate::errors::{py_err, run};
use crate::feed::{filter_from_py, since_args, PySubscription, Source};
use crate::import::Options;
use crate::query::{params_from_py, PyQueryResult, PyStatement};
use crate::records::{
    context_entry_from_py, context_to_py, customer_from_py, customer_to_py, list_to_py, many,
    message_from_py, message_to_py, score_from_py, score_to_py,
};
use cidb::{ErrorKind, ImportFormat, Millis};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping};
use std::path::PathBuf;

/// A handle on one tenant of an open `Engine` (from `engine.tenant(name)`). It sees only its
/// own tenant's data. Safe to share between threads.
#[pyclass(name = "Tenant", module = "cidb", frozen)]
pub struct PyTenant {
    inner: Unlocked<cidb::Tenant>,
}

impl PyTenant {
    pub fn new(inner: cidb::Tenant) -> PyTenant {
        PyTenant {
            inner: Unlocked::new(inner),
        }
    }

    fn now(&self) -> Millis {
        self.inner.engine().config().clock.now()
    }
}

/// A query bound: `None` means unbounded on that side.
fn bound(v: Option<&Bound<'_, PyAny>>, what: &str, unbounded: Millis) -> PyResult<Millis> {
    match v {
        Some(v) if !v.is_none() => timestamp(v, what),
        _ => Ok(unbounded),
    }
}

#[pymethods]
impl PyTenant {
    /// Runs one SQL query (`SELECT ...` or `EXPLAIN ...`) with `params` (a list or tuple,
    /// one value per `?`) and returns its `Result`. The GIL is released while it runs.
    #[pyo3(signature = (sql, params = None))]
    fn query(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyQueryResult> {
        let p = params_from_py(params)?;
        run(py, || self.inner.query_column_chunks(sql, &p)).map(PyQueryResult::new)
    }

    /// Parses, binds and checks `sql` once; run it many times with `Statement.query`.
    fn prepare(&self, py: Python<'_>, sql: &str) -> PyResult<PyStatement> {
        run(py, || self.inner.prepare(sql)).map(PyStatement::new)
    }

    /// The plan of `sql`: text in the SQLite shape (`format="text"`) or a dict
    /// (`format="json"`). With `analyze=True` the query runs and actual rows, rows
    /// examined and times are added.
    #[pyo3(signature = (sql, params = None, analyze = false, format = "text"))]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        analyze: bool,
        format: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        if format != "text" && format != "json" {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "format must be \"text\" or \"json\", not {format:?}"
            )));
        }
        let p = params_from_py(params)?;
        let e = run(py, || self.inner.explain(sql, &p, analyze))?;
        match format {
            "text" => Ok(pyo3::types::PyString::new(py, &e.text()).into_any()),
            _ => crate::convert::json_to_py(py, &e.to_json()),
        }
    }

    /// The tenant's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Inserts or replaces the customer with this `id`; the whole record is replaced.
    /// Pass a dict, keyword arguments, or both (keywords win). Fields: id (required),
    /// email, name, department, status, created_at, updated_at (default now), attributes
    /// (a dict).
    #[pyo3(signature = (customer = None, /, **fields))]
    fn upsert_customer(
        &self,
        py: Python<'_>,
        customer: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let c = customer_from_py(customer, fields, self.now())?;
        run(py, || self.inner.upsert_customer(&c))
    }

    /// Inserts or replaces many customers (an iterable of dicts) in one transaction: all
    /// land or none do.
    fn upsert_customers(&self, py: Python<'_>, customers: &Bound<'_, PyAny>) -> PyResult<()> {
        let now = self.now();
        let cs = many(customers, "customers", "upsert_customer", |c| {
            customer_from_py(Some(c), None, now)
        })?;
        run(py, || self.inner.upsert_customers(&cs))
    }

    /// The customer with this id as a dict, or None.
    fn get_customer<'py>(
        &self,
        py: Python<'py>,
        id: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        // The shared form: the dict is built from the cache's record, with no copy in between.
        // `id` is a view of the str's UTF-8 (abi3 >= 3.10), not a copy.
        let c = run(py, || self.inner.get_customer_shared(id))?;
        c.map(|c| customer_to_py(py, &c)).transpose()
    }

    /// Deletes the customer with this id; True when it existed. Its scores and messages
    /// are kept (they are history).
    fn delete_customer(&self, py: Python<'_>, id: String) -> PyResult<bool> {
        run(py, || self.inner.delete_customer(&id))
    }

    /// The number of customers of this tenant.
    fn count_customers(&self, py: Python<'_>) -> PyResult<u64> {
        run(py, || self.inner.count_customers())
    }

    /// Appends a score to the customer's history and updates its latest score. Fields:
    /// customer_id, score_type, score and confidence (floats in [0, 1]) are required;
    /// created_at (default now), model.
    #[pyo3(signature = (score = None, /, **fields))]
    fn add_score(
        &self,
        py: Python<'_>,
        score: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let s = score_from_py(score, fields, self.now())?;
        run(py, || self.inner.add_score(&s))
    }

    /// Appends many scores (an iterable of dicts) in one transaction: all land or none do.
    fn add_scores(&self, py: Python<'_>, scores: &Bound<'_, PyAny>) -> PyResult<()> {
        let now = self.now();
        let ss = many(scores, "scores", "add_score", |s| {
            score_from_py(Some(s), None, now)
        })?;
        run(py, || self.inner.add_scores(&ss))
    }

    /// The latest score of `score_type` for the customer as a dict, or None.
    fn latest_score<'py>(
        &self,
        py: Python<'py>,
        customer_id: String,
        score_type: String,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let s = run(py, || self.inner.latest_score_shared(&customer_id, &score_type))?;
        s.map(|s| score_to_py(py, &s)).transpose()
    }

    /// Scores of `score_type` for the customer with start <= created_at < end, oldest
    /// first. `start` / `end` are int ms or datetimes; None leaves that side open.
    #[pyo3(signature = (customer_id, score_type, start = None, end = None))]
    fn score_history<'py>(
        &self,
        py: Python<'py>,
        customer_id: String,
        score_type: String,
        start: Option<&Bound<'py, PyAny>>,
        end: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (from, to) = (
            bound(start, "start", Millis::MIN)?,
            bound(end, "end", Millis::MAX)?,
        );
        let ss = run(py, || {
            self.inner
                .score_history(&customer_id, &score_type, from, to)
        })?;
        list_to_py(py, &ss, score_to_py)
    }

    /// Appends a message and returns it as a dict with its assigned `id`. Fields:
    /// customer_id, conversation_id, role (user, assistant, system, agent or tool) and
    /// content are required; timestamp (default now), metadata (a dict).
    #[pyo3(signature = (message = None, /, **fields))]
    fn append_message<'py>(
        &self,
        py: Python<'py>,
        message: Option<&Bound<'py, PyAny>>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let m = message_from_py(message, fields, self.now())?;
        let stored = run(py, || self.inner.append_message(&m))?;
        message_to_py(py, &stored)
    }

    /// Appends many messages (an iterable of dicts) in one transaction, ids in order;
    /// returns them as dicts with their ids.
    fn append_messages<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = self.now();
        let ms = many(messages, "messages", "append_message", |m| {
            message_from_py(Some(m), None, now)
        })?;
        let stored = run(py, || self.inner.append_messages(&ms))?;
        list_to_py(py, &stored, message_to_py)
    }

    /// The customer's messages with start <= timestamp < end (None = open), optionally of
    /// one role, oldest first; at most `limit` of them (0 = all).
    #[pyo3(signature = (customer_id, start = None, end = None, role = None, limit = 0))]
    fn messages_for_customer<'py>(
        &self,
        py: Python<'py>,
        customer_id: String,
        start: Option<&Bound<'py, PyAny>>,
        end: Option<&Bound<'py, PyAny>>,
        role: Option<&Bound<'py, PyAny>>,
        limit: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let (from, to) = (
            bound(start, "start", Millis::MIN)?,
            bound(end, "end", Millis::MAX)?,
        );
        let role = match role {
            Some(r) if !r.is_none() => Some(crate::records::role(r, "role")?),
            _ => None,
        };
        let limit = usize::try_from(limit).map_err(|_| {
            py_err(
                ErrorKind::InvalidInput,
                format!("limit is {limit}; it must be 0 (no limit) or more"),
            )
        })?;
        let ms = run(py, || {
            self.inner
                .messages_for_customer(&customer_id, from, to, role, limit)
        })?;
        list_to_py(py, &ms, message_to_py)
    }

    /// The conversation's messages in append order.
    fn messages_for_conversation<'py>(
        &self,
        py: Python<'py>,
        conversation_id: String,
    ) -> PyResult<Bound<'py, PyList>> {
        let ms = run(py, || {
            self.inner.messages_for_conversation(&conversation_id)
        })?;
        list_to_py(py, &ms, message_to_py)
    }

    /// This tenant's application key-value cache (a `Cache`): `get`, `set`, `delete`,
    /// `get_or_set`. Keys are private to the tenant.
    #[getter]
    fn cache(&self) -> PyCache {
        PyCache::new(
            self.inner.cache(),
            self.inner.name(),
            self.inner.engine().dir(),
        )
    }

    /// Merges `entries` (dicts with role, content, optional timestamp and metadata) into
    /// the conversation's context, keeps the newest `max_history` by timestamp, sets it to
    /// expire `ttl` (seconds or a timedelta) from now, and returns the new context. Atomic
    /// under concurrent callers; an expired context counts as empty.
    #[pyo3(signature = (conversation_id, entries, ttl, max_history = 50))]
    fn update_context<'py>(
        &self,
        py: Python<'py>,
        conversation_id: String,
        entries: &Bound<'py, PyAny>,
        ttl: &Bound<'py, PyAny>,
        max_history: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        if entries.cast::<PyMapping>().is_ok() {
            return Err(PyTypeError::new_err(format!(
                "entries must be a list of dicts, not {}; wrap a single entry in a list",
                type_name(entries)
            )));
        }
        let now = self.now();
        let es = many(entries, "entries", "update_context", |e| {
            context_entry_from_py(e, now)
        })?;
        let ttl = crate::convert::ttl(ttl, "ttl")?;
        let max_history = usize::try_from(max_history).map_err(|_| {
            py_err(
                ErrorKind::InvalidInput,
                format!("max_history is {max_history}; it must be at least 1"),
            )
        })?;
        let ctx = run(py, || {
            self.inner
                .update_context(&conversation_id, &es, ttl, max_history)
        })?;
        context_to_py(py, &ctx)
    }

    /// The conversation's context as a dict (conversation_id, entries, updated_at,
    /// expires_at), or None when there is none or it expired.
    fn get_context<'py>(
        &self,
        py: Python<'py>,
        conversation_id: String,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let c = run(py, || self.inner.get_context(&conversation_id))?;
        c.map(|c| context_to_py(py, &c)).transpose()
    }

    /// Deletes the conversation's context; True when a live one existed.
    fn delete_context(&self, py: Python<'_>, conversation_id: String) -> PyResult<bool> {
        run(py, || self.inner.delete_context(&conversation_id))
    }

    /// Subscribes to this tenant's committed changes. With `callback`, it is called with
    /// each delivery on a delivery thread (exceptions go to `sys.unraisablehook`);
    /// without, iterate over the returned `Subscription` or call its `recv()`. Filters
    /// (None = all): `tables` (customers, customer_scores, latest_scores,
    /// conversation_messages, conversation_context), `ops` (insert, update, delete),
    /// `score_type`, `crossing` ({"score_type", "threshold", "above": True}: only latest
    /// scores crossing the threshold).
    #[pyo3(signature = (callback = None, *, tables = None, ops = None, score_type = None, crossing = None))]
    fn subscribe(
        &self,
        py: Python<'_>,
        callback: Option<&Bound<'_, PyAny>>,
        tables: Option<&Bound<'_, PyAny>>,
        ops: Option<&Bound<'_, PyAny>>,
        score_type: Option<String>,
        crossing: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySubscription> {
        let filter = filter_from_py(tables, ops, score_type, crossing)?;
        PySubscription::start(py, Source::Tenant(self.inner.clone()), filter, callback)
    }

    /// This tenant's logged events with sequence number >= `seq`, oldest first, at most
    /// `limit`. Resume after a restart (or a `missed` notice) from the last seq + 1.
    #[pyo3(signature = (seq = 0, limit = 1000))]
    fn events_since<'py>(
        &self,
        py: Python<'py>,
        seq: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let (seq, limit) = since_args(seq, limit)?;
        let events = run(py, || self.inner.events_since(seq, limit))?;
        crate::feed::events_to_py(py, &events)
    }

    /// Imports a CSV file (header row required) into `table` ("customers",
    /// "customer_scores" or "conversation_messages") and returns the report: imported,
    /// rejected, rejects (line, kind, reason), batches, elapsed_ms, notes, stopped_early.
    /// `delimiter` defaults to "," (tab for .tsv files). Rows commit in batches of
    /// `batch_size`; `progress(dict)` is called every 1,000 rows and stops the import by
    /// returning False.
    #[pyo3(signature = (table, path, *, delimiter = None, batch_size = 10_000,
                        ignore_unknown_columns = false, max_rejects = 1000, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_csv<'py>(
        &self,
        py: Python<'py>,
        table: &str,
        path: PathBuf,
        delimiter: Option<String>,
        batch_size: i64,
        ignore_unknown_columns: bool,
        max_rejects: i64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = Options {
            batch_size,
            ignore_unknown_columns,
            max_rejects,
            delimiter,
            progress,
        };
        crate::import::import_file(py, &self.inner, table, path, ImportFormat::Csv, opts)
    }

    /// Imports a JSON Lines file (one object per line) into `table`; see `import_csv`.
    #[pyo3(signature = (table, path, *, batch_size = 10_000, ignore_unknown_columns = false,
                        max_rejects = 1000, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_jsonl<'py>(
        &self,
        py: Python<'py>,
        table: &str,
        path: PathBuf,
        batch_size: i64,
        ignore_unknown_columns: bool,
        max_rejects: i64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = Options {
            batch_size,
            ignore_unknown_columns,
            max_rejects,
            delimiter: None,
            progress,
        };
        crate::import::import_file(py, &self.inner, table, path, ImportFormat::Jsonl, opts)
    }

    /// Imports records into `table`: an iterable of dicts, a pandas DataFrame or a pyarrow
    /// Table, keyed by column name. Frames are converted column by column; `None`, NaN,
    /// `pandas.NA` and `NaT` are missing values; datetimes become timestamps. Rejects are
    /// reported by 1-based row position. See `import_csv` for the options and the report.
    #[pyo3(signature = (table, rows, *, batch_size = 10_000, ignore_unknown_columns = false,
                        max_rejects = 1000, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_records<'py>(
        &self,
        py: Python<'py>,
        table: &str,
        rows: &Bound<'py, PyAny>,
        batch_size: i64,
        ignore_unknown_columns: bool,
        max_rejects: i64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = Options {
            batch_size,
            ignore_unknown_columns,
            max_rejects,
            delimiter: None,
            progress,
        };
        crate::import::import_records(py, &self.inner, table, rows, opts)
    }

    fn __repr__(&self) -> String {
        format!("<cidb.Tenant {:?}>", self.inner.name())
    }
}
