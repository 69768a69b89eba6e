//! Crash safety: a child process writes concurrently (customers, scores, messages, contexts)
//! and logs every acknowledged write; the parent kills it with SIGKILL at a random moment,
//! reopens the directory and checks that every acknowledged write is present, that
//! `latest_scores` agrees with the score history, and that the database opens cleanly.
//! Fifty iterations by default; `CIDB_CRASH_ITERATIONS` sets more (long mode).

mod common;
use cidb::{Config, ContextEntry, Engine, Role};
use common::*;
use std::io::Write;
use std::time::Duration;

const TENANTS: [&str; 2] = ["t1", "t2"];

/// The child: writes until killed, appending one line per acknowledged write.
#[test]
fn crash_child_writer() {
    let (Ok(dir), Ok(acks)) = (std::env::var("CIDB_CRASH_DIR"), std::env::var("CIDB_CRASH_ACKS")) else { return };
    let run: u64 = std::env::var("CIDB_CRASH_RUN").unwrap().parse().unwrap();
    let db = Engine::open(&dir, Config::default()).unwrap();
    let handles: Vec<_> = (0..4u64)
        .map(|w| {
            let db = db.clone();
            let acks = acks.clone();
            std::thread::spawn(move || {
                let mut log = std::fs::OpenOptions::new().append(true).create(true).open(&acks).unwrap();
                let t = db.tenant(TENANTS[(w % 2) as usize]).unwrap();
                for i in 0u64.. {
                    let id = format!("r{run}_w{w}_{i}");
                    let line = match i % 4 {
                        0 => {
                            t.upsert_customer(&customer(&id, "d", "s")).unwrap();
                            format!("C {} {id}\n", t.name())
                        }
                        1 => {
                            let at = T0 + (run * 1_000_000 + w * 100_000 + i) as i64;
                            t.add_score(&score(&format!("cust{w}"), "churn", (i % 100) as f64 / 100.0, at)).unwrap();
                            format!("S {} cust{w} {at}\n", t.name())
                        }
                        2 => {
                            let m = t.append_message(&msg(&format!("cust{w}"), &format!("conv{w}"), Role::User, T0, &id)).unwrap();
                            format!("M {} conv{w} {}\n", t.name(), m.id)
                        }
                        _ => {
                            let e = ContextEntry { role: Role::Agent, content: id.clone(), timestamp: T0 + i as i64, metadata: serde_json::json!({}) };
                            t.update_context(&format!("ctx{w}"), &[e], Duration::from_secs(1 << 30), 100_000).unwrap();
                            format!("X {} ctx{w} {id}\n", t.name())
                        }
                    };
                    log.write_all(line.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn check(dir: &std::path::Path, acks: &str) -> usize {
    let db = Engine::open(dir, Config::default()).expect("reopens cleanly after SIGKILL");
    let mut checked = 0;
    for line in acks.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 3 {
            continue; // a torn last line: the child died while logging it
        }
        let t = db.tenant(f[1]).unwrap();
        match f[0] {
            "C" => assert!(t.get_customer(f[2]).unwrap().is_some(), "acknowledged customer {line} lost"),
            "S" => {
                let at: i64 = f[3].parse().unwrap();
                assert_eq!(t.score_history(f[2], "churn", at, at + 1).unwrap().len(), 1, "acknowledged score {line} lost");
            }
            "M" => {
                let id: u64 = f[3].parse().unwrap();
                assert!(t.messages_for_conversation(f[2]).unwrap().iter().any(|m| m.id == id), "acknowledged message {line} lost");
            }
            "X" => {
                let ctx = t.get_context(f[2]).unwrap().expect("context present");
                assert!(ctx.entries.iter().any(|e| e.content == f[3]), "acknowledged context entry {line} lost");
            }
            _ => continue,
        }
        checked += 1;
    }
    // latest_scores agrees with the history for every score series
    for tn in TENANTS {
        let t = db.tenant(tn).unwrap();
        for w in 0..4 {
            let cid = format!("cust{w}");
            let hist = t.score_history(&cid, "churn", 0, i64::MAX).unwrap();
            let latest = t.latest_score(&cid, "churn").unwrap();
            assert_eq!(latest.map(|s| s.created_at), hist.iter().map(|s| s.created_at).max(), "latest_scores disagrees for {tn}/{cid}");
        }
    }
    // every index agrees with its table after the crash
    for ix in db.indexes().unwrap() {
        let chk = db.check_index(&ix.name).unwrap();
        assert!(chk.is_exact(), "index {} disagrees with its table after SIGKILL: {chk:?}", ix.name);
    }
    db.close().unwrap();
    checked
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let iterations: u64 = std::env::var("CIDB_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    let acks = dir.path().join("acks.log");
    let mut rng = cidb::datagen::Rng::new(std::process::id() as u64);
    let mut total = 0;
    for run in 0..iterations {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["crash_child_writer", "--exact", "--nocapture"])
            .env("CIDB_CRASH_DIR", &db_dir)
            .env("CIDB_CRASH_ACKS", &acks)
            .env("CIDB_CRASH_RUN", run.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + rng.below(170)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let log = std::fs::read_to_string(&acks).unwrap_or_default();
        total = check(&db_dir, &log);
    }
    eprintln!("crash_recovery: {iterations} kills, {total} acknowledged writes checked after the last one");
    assert!(total > 0, "the child acknowledged writes before being killed");
}
