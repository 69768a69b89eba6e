//! Records between Python and cidb: a customer, score or message arrives as a dict (any
//! mapping) and/or keyword arguments, and leaves as a plain `dict` whose keys are the Rust
//! field names. Unknown fields are rejected (`InvalidInputError` naming the field), a
//! missing required field likewise; `None` for a field means "not given" (its default).
//! Defaults: timestamps are "now" on the engine's clock, labels are `""`, `attributes` /
//! `metadata` are `{}`.

use crate::convert::{datetime, json_object, json_to_py, real, text, timestamp, type_name};
use crate::errors::py_err;
use cidb::{Context, ContextEntry, Customer, ErrorKind, Message, Millis, NewMessage, Role, Score};
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyMapping, PyString};

/// Field names of a customer, in output order.
pub const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "email",
    "name",
    "department",
    "status",
    "created_at",
    "updated_at",
    "attributes",
];
/// Field names of a score, in output order.
pub const SCORE_FIELDS: &[&str] = &[
    "customer_id",
    "score_type",
    "score",
    "confidence",
    "created_at",
    "model",
];
/// Field names of a new message (a stored one adds `id` first).
pub const MESSAGE_FIELDS: &[&str] = &[
    "customer_id",
    "conversation_id",
    "role",
    "timestamp",
    "content",
    "metadata",
];

/// Field names of a conversation-context entry, in output order.
pub const CONTEXT_ENTRY_FIELDS: &[&str] = &["role", "content", "timestamp", "metadata"];

/// Calls `f(field, value)` for every entry of `record` (a mapping), then of `kwargs`, so
/// keyword arguments override the mapping. `f` returns false for a field it does not know.
fn for_each_field<'py>(
    what: &str,
    known: &[&str],
    record: Option<&Bound<'py, PyAny>>,
    kwargs: Option<&Bound<'py, PyDict>>,
    mut f: impl FnMut(&str, &Bound<'py, PyAny>) -> PyResult<bool>,
) -> PyResult<()> {
    let mut visit = |k: Bound<'py, PyAny>, v: Bound<'py, PyAny>| -> PyResult<()> {
        let key = match k.cast::<PyString>() {
            Ok(s) => s.to_cow()?.into_owned(),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what} field names must be str, not {}",
                    type_name(&k)
                )))
            }
        };
        if !f(&key, &v)? {
            return Err(py_err(
                ErrorKind::InvalidInput,
                format!(
                    "{what} has no field '{key}'; its fields are {}",
                    known.join(", ")
                ),
            ));
        }
        Ok(())
    };
    if let Some(r) = record.filter(|r| !r.is_none()) {
        if let Ok(d) = r.cast::<PyDict>() {
            for (k, v) in d.iter() {
                visit(k, v)?;
            }
        } else if let Ok(m) = r.cast::<PyMapping>() {
            for item in m.items()?.iter() {
                let (k, v) = item.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>()?;
                visit(k, v)?;
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a dict, not {}",
                type_name(r)
            )));
        }
    }
    if let Some(kw) = kwargs {
        for (k, v) in kw.iter() {
            visit(k, v)?;
        }
    }
    Ok(())
}

/// `None` stays `None`; anything else goes through `f`.
fn opt<'py, T>(
    v: &Bound<'py, PyAny>,
    f: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    if v.is_none() {
        Ok(None)
    } else {
        f(v).map(Some)
    }
}

fn required<T>(v: Option<T>, what: &str, field: &str) -> PyResult<T> {
    v.ok_or_else(|| {
        py_err(
            ErrorKind::InvalidInput,
            format!("{what} is missing required field '{field}'"),
        )
    })
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// A role name as a [`Role`] (`InvalidRoleError` for an unknown name).
pub fn role(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Role> {
    text(v, what)?.parse::<Role>().map_err(crate::errors::to_py)
}

/// A customer from a mapping and/or keyword arguments.
pub fn customer_from_py(
    record: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
    now: Millis,
) -> PyResult<Customer> {
    let mut c = Customer::new(String::new(), now);
    let (mut id, mut created, mut updated) = (None, None, None);
    for_each_field("customer", CUSTOMER_FIELDS, record, kwargs, |k, v| {
        match k {
            "id" => id = opt(v, |v| text(v, "customer id"))?,
            "email" => c.email = opt(v, |v| text(v, "customer email"))?,
            "name" => c.name = opt(v, |v| text(v, "customer name"))?,
            "department" => {
                c.department = opt(v, |v| text(v, "customer department"))?.unwrap_or_default()
            }
            "status" => c.status = opt(v, |v| text(v, "customer status"))?.unwrap_or_default(),
            "created_at" => created = opt(v, |v| timestamp(v, "created_at"))?,
            "updated_at" => updated = opt(v, |v| timestamp(v, "updated_at"))?,
            "attributes" => {
                c.attributes =
                    opt(v, |v| json_object(v, "attributes"))?.unwrap_or_else(empty_object)
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    c.id = required(id, "customer", "id")?;
    c.created_at = created.unwrap_or(now);
    c.updated_at = updated.unwrap_or(now);
    Ok(c)
}

/// A score from a mapping and/or keyword arguments.
pub fn score_from_py(
    record: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
    now: Millis,
) -> PyResult<Score> {
    let (mut customer_id, mut score_type, mut score, mut confidence, mut created, mut model) =
        (None, None, None, None, None, None);
    for_each_field("score", SCORE_FIELDS, record, kwargs, |k, v| {
        match k {
            "customer_id" => customer_id = opt(v, |v| text(v, "customer_id"))?,
            "score_type" => score_type = opt(v, |v| text(v, "score_type"))?,
            "score" => score = opt(v, |v| real(v, "score"))?,
            "confidence" => confidence = opt(v, |v| real(v, "confidence"))?,
            "created_at" => created = opt(v, |v| timestamp(v, "created_at"))?,
            "model" => model = opt(v, |v| text(v, "model"))?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Score {
        customer_id: required(customer_id, "score", "customer_id")?,
        score_type: required(score_type, "score", "score_type")?,
        score: required(score, "score", "score")?,
        confidence: required(confidence, "score", "confidence")?,
        created_at: created.unwrap_or(now),
        model,
    })
}

/// A new message from a mapping and/or keyword arguments.
pub fn message_from_py(
    record: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
    now: Millis,
) -> PyResult<NewMessage> {
    let (mut customer_id, mut conversation_id, mut role_, mut ts, mut content, mut metadata) =
        (None, None, None, None, None, None);
    for_each_field("message", MESSAGE_FIELDS, record, kwargs, |k, v| {
        match k {
            "customer_id" => customer_id = opt(v, |v| text(v, "customer_id"))?,
            "conversation_id" => conversation_id = opt(v, |v| text(v, "conversation_id"))?,
            "role" => role_ = opt(v, |v| role(v, "role"))?,
            "timestamp" => ts = opt(v, |v| timestamp(v, "timestamp"))?,
            "content" => content = opt(v, |v| text(v, "content"))?,
            "metadata" => metadata = opt(v, |v| json_object(v, "metadata"))?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(NewMessage {
        customer_id: required(customer_id, "message", "customer_id")?,
        conversation_id: required(conversation_id, "message", "conversation_id")?,
        role: required(role_, "message", "role")?,
        timestamp: ts.unwrap_or(now),
        content: required(content, "message", "content")?,
        metadata: metadata.unwrap_or_else(empty_object),
    })
}

/// A conversation-context entry from a mapping: `role` and `content` are required,
/// `timestamp` defaults to now, `metadata` (a dict) to `{}`.
pub fn context_entry_from_py(entry: &Bound<'_, PyAny>, now: Millis) -> PyResult<ContextEntry> {
    let (mut role_, mut content, mut ts, mut metadata) = (None, None, None, None);
    for_each_field(
        "context entry",
        CONTEXT_ENTRY_FIELDS,
        Some(entry),
        None,
        |k, v| {
            match k {
                "role" => role_ = opt(v, |v| role(v, "role"))?,
                "content" => content = opt(v, |v| text(v, "content"))?,
                "timestamp" => ts = opt(v, |v| timestamp(v, "timestamp"))?,
                "metadata" => metadata = opt(v, |v| json_object(v, "metadata"))?,
                _ => return Ok(false),
            }
            Ok(true)
        },
    )?;
    Ok(ContextEntry {
        role: required(role_, "context entry", "role")?,
        content: required(content, "context entry", "content")?,
        timestamp: ts.unwrap_or(now),
        metadata: metadata.unwrap_or_else(empty_object),
    })
}

/// Records from an iterable of mappings. A single mapping, `str` or `bytes` is refused
/// with a hint, since iterating it would yield keys or characters.
pub fn many<'py, T>(
    items: &Bound<'py, PyAny>,
    what: &str,
    one: &str,
    mut f: impl FnMut(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    if items.cast::<PyMapping>().is_ok()
        || items.is_instance_of::<PyString>()
        || items.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of dicts, not {}; for a single record use {one}()",
            type_name(items)
        )));
    }
    let iter = items.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be an iterable of dicts, not {}",
            type_name(items)
        ))
    })?;
    let mut out = Vec::with_capacity(items.len().unwrap_or(0));
    for item in iter {
        out.push(f(&item?)?);
    }
    Ok(out)
}

/// A customer as a dict.
pub fn customer_to_py<'py>(py: Python<'py>, c: &Customer) -> PyResult<Bound<'py, PyDict>> {
    static TEMPLATE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
    let d = keyed_dict(py, &TEMPLATE, CUSTOMER_FIELDS)?;
    d.set_item(intern!(py, "id"), &c.id)?;
    d.set_item(intern!(py, "email"), c.email.as_deref())?;
    d.set_item(intern!(py, "name"), c.name.as_deref())?;
    d.set_item(intern!(py, "department"), &c.department)?;
    d.set_item(intern!(py, "status"), &c.status)?;
    d.set_item(intern!(py, "created_at"), datetime(py, c.created_at)?)?;
    d.set_item(intern!(py, "updated_at"), datetime(py, c.updated_at)?)?;
    d.set_item(intern!(py, "attributes"), json_to_py(py, &c.attributes)?)?;
    Ok(d)
}

/// A dict holding `fields` (interned, values None, in order), copied from a template made
/// once. CPython copies a template's key table in one step, where inserting eight keys
/// into a new dict resizes its table twice on the way; the `set_item`s that follow then
/// only replace values. Same keys, same order, same dict type as building it afresh.
fn keyed_dict<'py>(
    py: Python<'py>,
    template: &'static PyOnceLock<Py<PyDict>>,
    fields: &[&str],
) -> PyResult<Bound<'py, PyDict>> {
    let t = template.get_or_try_init(py, || {
        let d = PyDict::new(py);
        for f in fields {
            d.set_item(PyString::intern(py, f), py.None())?;
        }
        Ok::<_, PyErr>(d.unbind())
    })?;
    t.bind(py).copy()
}

/// A score as a dict.
pub fn score_to_py<'py>(py: Python<'py>, s: &Score) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "customer_id"), &s.customer_id)?;
    d.set_item(intern!(py, "score_type"), &s.score_type)?;
    d.set_item(intern!(py, "score"), s.score)?;
    d.set_item(intern!(py, "confidence"), s.confidence)?;
    d.set_item(intern!(py, "created_at"), datetime(py, s.created_at)?)?;
    d.set_item(intern!(py, "model"), s.model.as_deref())?;
    Ok(d)
}

/// A stored message as a dict (with its `id`).
pub fn message_to_py<'py>(py: Python<'py>, m: &Message) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "id"), m.id)?;
    d.set_item(intern!(py, "customer_id"), &m.customer_id)?;
    d.set_item(intern!(py, "conversation_id"), &m.conversation_id)?;
    d.set_item(intern!(py, "role"), m.role.as_str())?;
    d.set_item(intern!(py, "timestamp"), datetime(py, m.timestamp)?)?;
    d.set_item(intern!(py, "content"), &m.content)?;
    d.set_item(intern!(py, "metadata"), json_to_py(py, &m.metadata)?)?;
    Ok(d)
}

/// A conversation context as a dict: conversation_id, entries (oldest first, each with
/// role, content, timestamp, metadata), updated_at, expires_at.
pub fn context_to_py<'py>(py: Python<'py>, c: &Context) -> PyResult<Bound<'py, PyDict>> {
    let entries = pyo3::types::PyList::empty(py);
    for e in &c.entries {
        let d = PyDict::new(py);
        d.set_item(intern!(py, "role"), e.role.as_str())?;
        d.set_item(intern!(py, "content"), &e.content)?;
        d.set_item(intern!(py, "timestamp"), datetime(py, e.timestamp)?)?;
        d.set_item(intern!(py, "metadata"), json_to_py(py, &e.metadata)?)?;
        entries.append(d)?;
    }
    let d = PyDict::new(py);
    d.set_item(intern!(py, "conversation_id"), &c.conversation_id)?;
    d.set_item(intern!(py, "entries"), entries)?;
    d.set_item(intern!(py, "updated_at"), datetime(py, c.updated_at)?)?;
    d.set_item(intern!(py, "expires_at"), datetime(py, c.expires_at)?)?;
    Ok(d)
}

/// A list of dicts.
pub fn list_to_py<'py, T>(
    py: Python<'py>,
    items: &[T],
    f: impl Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, pyo3::types::PyList>> {
    let list = pyo3::types::PyList::empty(py);
    for item in items {
        list.append(f(py, item)?)?;
    }
    Ok(list)
}
