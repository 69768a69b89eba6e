//! The bad-input matrix (docs/bad-input.md, cases in tests/bad-input/cases.json) walked
//! against the core itself: the file the C, Python and Node tests share must say what the
//! core really reports, so a binding that disagrees is the binding's bug. Each bad case
//! must fail with its kind (by `ErrorKind::as_str`) and a message containing its text, and
//! write nothing; each `"kind": "ok"` case must succeed, then fail with `Closed` after close.

mod common;
use cidb::{ContextEntry, Customer, Engine, Error, ErrorKind, NewMessage, Role, Score, Tenant, Value};
use serde_json::{json, Value as Json};

fn cases() -> Vec<Json> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bad-input/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Expands `${s*N}` (s repeated N times) in every string.
fn expand(v: &Json) -> Json {
    match v {
        Json::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                let (star, close) = (rest[i..].find('*').unwrap() + i, rest[i..].find('}').unwrap() + i);
                out.push_str(&rest[..i]);
                out.push_str(&rest[i + 2..star].repeat(rest[star + 1..close].parse().unwrap()));
                rest = &rest[close + 1..];
            }
            out.push_str(rest);
            Json::String(out)
        }
        Json::Array(a) => Json::Array(a.iter().map(expand).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), expand(v))).collect()),
        v => v.clone(),
    }
}

/// `record` over `base` (what a binding fills in for absent optional fields).
fn overlay<T: serde::de::DeserializeOwned>(base: Json, record: &Json) -> T {
    let mut b = base;
    for (k, v) in record.as_object().unwrap() {
        b[k] = v.clone();
    }
    serde_json::from_value(b).unwrap()
}

fn role(v: &Json) -> Result<Role, Error> {
    v.as_str().unwrap().parse::<Role>()
}

fn run(db: &Engine, t: &Tenant, case: &Json) -> Result<(), Error> {
    let a = expand(&case["arg"]);
    let s = |k: &str| a[k].as_str().unwrap().to_string();
    match case["op"].as_str().unwrap() {
        "tenant" => db.tenant(&s("name")).map(drop),
        "upsert_customer" => {
            let base = serde_json::to_value(Customer::new("x", 0)).unwrap();
            let mut c: Customer = overlay(base, &a["record"]);
            if a["record"].get("updated_at").is_none() {
                c.updated_at = c.created_at;
            }
            t.upsert_customer(&c)
        }
        "get_customer" => t.get_customer(&s("id")).map(drop),
        "add_score" => t.add_score(&overlay::<Score>(json!({"model": null}), &a["record"])),
        "append_message" => {
            let r = &a["record"];
            let m = NewMessage {
                customer_id: r["customer_id"].as_str().unwrap().into(),
                conversation_id: r["conversation_id"].as_str().unwrap().into(),
                role: role(&r["role"])?,
                timestamp: r["timestamp"].as_i64().unwrap(),
                content: r["content"].as_str().unwrap().into(),
                metadata: r.get("metadata").cloned().unwrap_or(json!({})),
            };
            t.append_message(&m).map(drop)
        }
        "update_context" => {
            let mut entries = Vec::new();
            for e in a["entries"].as_array().unwrap() {
                entries.push(ContextEntry {
                    role: role(&e["role"])?,
                    content: e["content"].as_str().unwrap().into(),
                    timestamp: e["timestamp"].as_i64().unwrap(),
                    metadata: json!({}),
                });
            }
            let ttl = cidb::cache::ttl_from_millis(a["ttl_ms"].as_i64().unwrap())?;
            t.update_context(&s("conversation_id"), &entries, ttl, a["max_history"].as_u64().unwrap() as usize).map(drop)
        }
        "cache_set" => {
            let ttl = match a["ttl_ms"].as_i64() {
                None => None,
                Some(ms) => Some(cidb::cache::ttl_from_millis(ms)?),
            };
            t.cache().set(&s("key"), &vec![b'v'; a["value_len"].as_u64().unwrap() as usize], ttl)
        }
        "query" => {
            let params: Vec<Value> = a["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| match p {
                    Json::String(s) => Value::Text(s.clone()),
                    Json::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap()),
                    Json::Number(n) => Value::Real(n.as_f64().unwrap()),
                    _ => Value::Null,
                })
                .collect();
            t.query(&s("sql"), &params).map(drop)
        }
        "execute" => db.execute(&s("sql")).map(drop),
        op => panic!("unknown op {op}"),
    }
}

fn counts(db: &Engine) -> String {
    let s = serde_json::to_value(db.stats().unwrap()).unwrap();
    format!("{} {} {}", s["customers"], s["scores"], s["messages"])
}

#[test]
fn every_bad_case_fails_with_its_kind_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(dir.path());
    let t = db.tenant("acme").unwrap();
    let before = counts(&db);
    let mut n = 0;
    for case in cases().iter().filter(|c| c["kind"] != "ok") {
        let id = case["id"].as_str().unwrap();
        let want = case["kind"].as_str().unwrap();
        assert!(ErrorKind::ALL.iter().any(|k| k.as_str() == want), "{id}: no kind named {want}");
        let e = run(&db, &t, case).expect_err(id);
        assert_eq!(e.kind().as_str(), want, "{id}: {e}");
        let text = case["text"].as_str().unwrap();
        assert!(e.to_string().to_lowercase().contains(&text.to_lowercase()), "{id}: message {e:?} does not mention {text:?}");
        n += 1;
    }
    assert!(n >= 40);
    assert_eq!(counts(&db), before, "a rejected call wrote something");
}

#[test]
fn every_valid_case_succeeds_then_fails_closed_after_close() {
    for case in cases().iter().filter(|c| c["kind"] == "ok") {
        let id = case["id"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = common::open(dir.path());
        let t = db.tenant("acme").unwrap();
        run(&db, &t, case).unwrap_or_else(|e| panic!("{id}: {e}"));
        db.close().unwrap();
        let e = run(&db, &t, case).expect_err(id);
        assert_eq!(e.kind(), ErrorKind::Closed, "{id}: {e}");
    }
}
