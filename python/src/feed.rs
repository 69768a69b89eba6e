//! The change feed in Python: `subscribe(...)` on a tenant or the engine returns a
//! `Subscription`. Without a callback it is an iterator (`for d in sub:`, `sub.recv()`)
//! that waits with the GIL released, in short slices so Ctrl-C still interrupts it; with a
//! callback, the core's delivery thread calls it, attached to the interpreter for the call
//! only. Deliveries and `events_since` results are dicts: `{"event": {...}}` or
//! `{"missed": {"count", "from_seq"}}`; event records carry `datetime` timestamps.

use crate::callback::{active, callable, notify, Unlocked};
use crate::convert::{datetime, json_to_py, real, text, type_name};
use crate::errors::{py_err, run};
use crate::records::context_to_py;
use cidb::feed::{CallbackSubscription, Crossing, Delivery, Event, Filter, Op, CONTEXT_TABLE};
use cidb::{ErrorKind, Table};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait with the GIL released before signals (Ctrl-C) are checked again.
const SLICE: Duration = Duration::from_millis(100);

/// Fields of event records that hold timestamps (int ms in the core's JSON).
const TIME_FIELDS: [&str; 3] = ["created_at", "updated_at", "timestamp"];

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
    }
}

/// A record of an event: a SQL row as a dict keyed by column (timestamps as `datetime`),
/// or for `conversation_context` the context as `get_context` returns it.
fn record_to_py<'py>(
    py: Python<'py>,
    table: &str,
    v: Option<&serde_json::Value>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(v) = v else {
        return Ok(py.None().into_bound(py));
    };
    if table == CONTEXT_TABLE {
        if let Ok(ctx) = serde_json::from_value::<cidb::Context>(v.clone()) {
            return Ok(context_to_py(py, &ctx)?.into_any());
        }
    }
    let out = json_to_py(py, v)?;
    if let Ok(d) = out.cast::<PyDict>() {
        for field in TIME_FIELDS {
            if let Some(ms) = v.get(field).and_then(|x| x.as_i64()) {
                d.set_item(field, datetime(py, ms)?)?;
            }
        }
    }
    Ok(out)
}

/// One event as a dict: seq, at, tenant, table, op, key, new, old.
pub fn event_to_py<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("seq", e.seq)?;
    d.set_item("at", datetime(py, e.at)?)?;
    d.set_item("tenant", &e.tenant)?;
    d.set_item("table", &e.table)?;
    d.set_item("op", op_name(e.op))?;
    d.set_item("key", &e.key)?;
    d.set_item("new", record_to_py(py, &e.table, e.new.as_ref())?)?;
    d.set_item("old", record_to_py(py, &e.table, e.old.as_ref())?)?;
    Ok(d)
}

/// A list of event dicts.
pub fn events_to_py<'py>(py: Python<'py>, events: &[Event]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in events {
        out.append(event_to_py(py, e)?)?;
    }
    Ok(out)
}

/// A delivery as `{"event": {...}}` or `{"missed": {"count": n, "from_seq": s}}`.
pub fn delivery_to_py<'py>(py: Python<'py>, d: &Delivery) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    match d {
        Delivery::Event(e) => out.set_item("event", event_to_py(py, e)?)?,
        Delivery::Missed { count, from_seq } => {
            let m = PyDict::new(py);
            m.set_item("count", count)?;
            m.set_item("from_seq", from_seq)?;
            out.set_item("missed", m)?;
        }
    }
    Ok(out)
}

/// Names a filter may list: the SQL tables and `conversation_context`.
fn table_names() -> Vec<&'static str> {
    Table::ALL
        .iter()
        .map(|t| t.name())
        .chain([CONTEXT_TABLE])
        .collect()
}

/// One string or an iterable of strings (a lone `str` is one item, not its characters).
fn strings(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() {
        return Ok(vec![text(v, what)?]);
    }
    let iter = v.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a str or an iterable of str, not {}",
            type_name(v)
        ))
    })?;
    iter.map(|item| text(&item?, what)).collect()
}

fn crossing_from_py(v: &Bound<'_, PyAny>) -> PyResult<Crossing> {
    let m = v.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!(
            "crossing must be a dict with score_type, threshold and above, not {}",
            type_name(v)
        ))
    })?;
    let (mut score_type, mut threshold, mut above) = (None, None, true);
    for item in m.items()?.iter() {
        let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        match text(&k, "crossing key")?.as_str() {
            "score_type" => score_type = Some(text(&v, "crossing score_type")?),
            "threshold" => threshold = Some(real(&v, "crossing threshold")?),
            "above" => above = v.is_truthy()?,
            other => {
                return Err(py_err(
                    ErrorKind::InvalidInput,
                    format!(
                    "crossing has no field '{other}'; its fields are score_type, threshold, above"
                ),
                ))
            }
        }
    }
    let missing = |f: &str| {
        py_err(
            ErrorKind::InvalidInput,
            format!("crossing is missing '{f}'"),
        )
    };
    let score_type = score_type.ok_or_else(|| missing("score_type"))?;
    cidb::model::check_id("crossing score_type", &score_type).map_err(crate::errors::to_py)?;
    let threshold = threshold.ok_or_else(|| missing("threshold"))?;
    if !threshold.is_finite() {
        return Err(py_err(
            ErrorKind::InvalidInput,
            format!("crossing threshold is {threshold}; it must be a finite number"),
        ));
    }
    Ok(Crossing {
        score_type,
        threshold,
        above,
    })
}

/// A feed filter from `subscribe`'s keyword arguments (None = everything). Unknown table
/// names are `UnknownTableError` and unknown operations `InvalidInputError`: a filter
/// that can never match is a mistake, not a quiet subscription.
pub fn filter_from_py(
    tables: Option<&Bound<'_, PyAny>>,
    ops: Option<&Bound<'_, PyAny>>,
    score_type: Option<String>,
    crossing: Option<&Bound<'_, PyAny>>,
) -> PyResult<Filter> {
    let mut f = Filter::default();
    if let Some(t) = tables.filter(|t| !t.is_none()) {
        let known = table_names();
        for name in strings(t, "tables")? {
            match known.iter().find(|k| k.eq_ignore_ascii_case(&name)) {
                Some(k) => f.tables.push(k.to_string()),
                None => {
                    return Err(py_err(
                        ErrorKind::UnknownTable,
                        format!("unknown table '{name}'; the feed has {}", known.join(", ")),
                    ))
                }
            }
        }
    }
    if let Some(o) = ops.filter(|o| !o.is_none()) {
        for name in strings(o, "ops")? {
            f.ops.push(match name.to_ascii_lowercase().as_str() {
                "insert" => Op::Insert,
                "update" => Op::Update,
                "delete" => Op::Delete,
                _ => {
                    return Err(py_err(
                        ErrorKind::InvalidInput,
                        format!("unknown operation '{name}'; expected insert, update or delete"),
                    ))
                }
            });
        }
    }
    if let Some(st) = &score_type {
        cidb::model::check_id("score_type", st).map_err(crate::errors::to_py)?;
    }
    f.score_type = score_type;
    f.crossing = crossing
        .filter(|c| !c.is_none())
        .map(crossing_from_py)
        .transpose()?;
    Ok(f)
}

/// `seq` and `limit` of `events_since` as the core wants them.
pub fn since_args(seq: i64, limit: i64) -> PyResult<(u64, usize)> {
    let seq = u64::try_from(seq).map_err(|_| {
        py_err(
            ErrorKind::InvalidInput,
            format!("seq is {seq}; it must be 0 or more"),
        )
    })?;
    match usize::try_from(limit) {
        Ok(l) if l >= 1 => Ok((seq, l)),
        _ => Err(py_err(
            ErrorKind::InvalidInput,
            format!("limit is {limit}; it must be 1 or more"),
        )),
    }
}

enum Mode {
    /// Deliveries wait in the subscription's queue for `recv` / iteration.
    Queue(cidb::feed::Subscription),
    /// A delivery thread calls the callback; `None` once closed.
    Callback(Mutex<Option<CallbackSubscription>>),
}

/// A subscription to committed changes, from `Tenant.subscribe` or `Engine.subscribe`.
/// Without a callback, iterate over it (or call `recv`) to receive deliveries; with a
/// callback, the callback receives them on a delivery thread. `close()` (or leaving the
/// `with` block) stops delivery; closing the engine ends it too.
#[pyclass(name = "Subscription", module = "cidb", frozen)]
pub struct PySubscription {
    id: u64,
    engine: Unlocked<cidb::Engine>,
    mode: Mode,
    closed: Arc<AtomicBool>,
}

/// What a subscription watches: one tenant or the whole engine.
pub enum Source {
    Tenant(cidb::Tenant),
    Engine(cidb::Engine),
}

impl PySubscription {
    /// Subscribes `source` with `filter`: deliveries go to `callback` (on a delivery
    /// thread) when given, else to the subscription's queue.
    pub fn start(
        py: Python<'_>,
        source: Source,
        filter: Filter,
        callback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySubscription> {
        let engine = match &source {
            Source::Tenant(t) => t.engine().clone(),
            Source::Engine(e) => e.clone(),
        };
        let closed = Arc::new(AtomicBool::new(false));
        let (id, mode) = match callback.filter(|c| !c.is_none()) {
            None => {
                let s = run(py, move || match &source {
                    Source::Tenant(t) => t.subscribe(filter),
                    Source::Engine(e) => e.subscribe(filter),
                })?;
                (s.id(), Mode::Queue(s))
            }
            Some(cb) => {
                let cb = callable(cb, "callback")?;
                let closed = closed.clone();
                let f = move |d: Delivery| {
                    // Deliveries still queued when the subscription closed are dropped.
                    if !closed.load(Ordering::Acquire) {
                        notify(&cb, |py| Ok(delivery_to_py(py, &d)?.into_any()))
                    }
                };
                let s = run(py, move || match &source {
                    Source::Tenant(t) => t.subscribe_callback(filter, f),
                    Source::Engine(e) => e.subscribe_callback(filter, f),
                })?;
                (s.id(), Mode::Callback(Mutex::new(Some(s))))
            }
        };
        Ok(PySubscription {
            id,
            engine: Unlocked::new(engine),
            mode,
            closed,
        })
    }

    fn queue(&self) -> PyResult<&cidb::feed::Subscription> {
        match &self.mode {
            Mode::Queue(s) => Ok(s),
            Mode::Callback(_) => Err(PyTypeError::new_err(
                "this subscription delivers to its callback; subscribe without a callback to iterate or recv()",
            )),
        }
    }

    /// The next delivery, waiting until `deadline` (None = no limit) with the GIL released.
    /// None on timeout, after `close()`, or once the engine closed and the queue is empty.
    fn next_delivery(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<Delivery>> {
        let sub = self.queue()?;
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Ok(None);
            }
            let wait = match deadline {
                None => SLICE,
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            };
            // Interpreter exit: stop waiting (see callback.rs for why).
            let Some(waiting) = active() else {
                return Ok(None);
            };
            let got = py.detach(|| sub.recv_timeout(wait));
            drop(waiting);
            if let Some(d) = got {
                return Ok(Some(d));
            }
            if self.engine.is_closed() {
                return Ok(sub.try_recv()); // the feed ended: hand out what is left
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Stops delivery; for a callback, waits (GIL released) for a call in progress.
    fn stop(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::Release);
        match &self.mode {
            Mode::Queue(s) => s.unsubscribe(),
            Mode::Callback(slot) => {
                let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(mut s) = taken {
                    py.detach(move || s.unsubscribe());
                }
            }
        }
    }
}

impl Drop for PySubscription {
    fn drop(&mut self) {
        // Dropped by the garbage collector with the GIL held: joining a delivery thread
        // that waits for the GIL would deadlock, so release it for the join.
        self.closed.store(true, Ordering::Release);
        if let Mode::Callback(slot) = &self.mode {
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(mut s) = taken {
                let _ = Python::try_attach(|py| py.detach(|| s.unsubscribe()));
            }
        }
    }
}

#[pymethods]
impl PySubscription {
    /// The subscription's id (unique within the engine).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// True after `close()`.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The next delivery as a dict, waiting at most `timeout` (seconds or a timedelta;
    /// None waits as long as it takes, 0 only looks). Returns None on timeout, after
    /// `close()`, or once the engine is closed and nothing is left. `TypeError` for a
    /// callback subscription.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let wait = crate::convert::timeout(timeout)?;
        let deadline = wait.map(|w| Instant::now().checked_add(w).unwrap_or_else(far_future));
        let d = self.next_delivery(py, deadline)?;
        d.map(|d| delivery_to_py(py, &d)).transpose()
    }

    /// The subscription itself (`TypeError` for a callback subscription).
    fn __iter__(slf: Py<Self>) -> PyResult<Py<Self>> {
        slf.get().queue()?;
        Ok(slf)
    }

    /// Blocks (GIL released) until the next delivery; the iteration ends after `close()`
    /// or when the engine closes.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let d = self.next_delivery(py, None)?;
        d.map(|d| delivery_to_py(py, &d)).transpose()
    }

    /// Stops delivery. A callback in progress finishes first (unless `close` is called
    /// from the callback itself). Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        self.stop(py);
    }

    /// Returns the subscription itself.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the subscription. Exceptions from the block propagate.
    #[pyo3(signature = (exc_type, exc_value, traceback, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) -> bool {
        let _ = (exc_type, exc_value, traceback);
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        let kind = match self.mode {
            Mode::Queue(_) => "queue",
            Mode::Callback(_) => "callback",
        };
        let state = if self.closed() { " closed" } else { "" };
        format!("<cidb.Subscription id={} {kind}{state}>", self.id)
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
