//! Shared helpers for the integration tests.
#![allow(dead_code)]

use cidb::{Config, Customer, Engine, NewMessage, Role, Score};

pub const T0: i64 = 1_700_000_000_000;

pub fn open(dir: &std::path::Path) -> Engine {
    Engine::open(dir, Config::default()).expect("open")
}

pub fn customer(id: &str, dept: &str, status: &str) -> Customer {
    let mut c = Customer::new(id, T0);
    c.department = dept.into();
    c.status = status.into();
    c.email = Some(format!("{id}@x.test"));
    c
}

pub fn score(cid: &str, ty: &str, v: f64, at: i64) -> Score {
    Score { customer_id: cid.into(), score_type: ty.into(), score: v, confidence: 0.9, created_at: at, model: None }
}

pub fn msg(cid: &str, conv: &str, role: Role, at: i64, text: &str) -> NewMessage {
    NewMessage {
        customer_id: cid.into(),
        conversation_id: conv.into(),
        role,
        timestamp: at,
        content: text.into(),
        metadata: serde_json::json!({}),
    }
}
