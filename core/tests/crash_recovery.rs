//! Crash safety: a child process writes concurrently (customers, scores, messages, contexts,
//! cache values) while a DDL thread runs online index builds on the populated tables
//! (CREATE INDEX CONCURRENTLY, DROP INDEX cycles, and UNIQUE builds that must fail and be
//! discarded), logging every acknowledged operation; the parent kills it with SIGKILL at a
//! random moment, reopens the directory and checks that every acknowledged write is present,
//! that interrupted builds are resumed or discarded, that every index holds exactly one entry
//! per qualifying row, that `latest_scores` agrees with the score history, and that the cache
//! tiers open cleanly and never return a wrong value.
//! Fifty iterations by default; `CIDB_CRASH_ITERATIONS` sets more (long mode).
//!
//! Ack log lines are `KIND tenant-or-name fields... .`; the final `.` marks a complete line.
//! Index lines come in intent/ack pairs (`i`/`I` create, `d`/`D` drop): an operation whose
//! intent is logged without its ack may or may not have happened.

mod common;
use cidb::{Config, ContextEntry, Engine, ErrorKind, Role, Value};
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

const TENANTS: [&str; 2] = ["t1", "t2"];
/// A tenant the child never writes: its customers share one department, so a UNIQUE index
/// on customers(department) can never be built.
const DUP_TENANT: &str = "tu";
const DUP_ROWS: usize = 600;
const INDEX_SHAPES: [(&str, &str); 3] = [
    ("customers", "status, updated_at"),
    ("customer_scores", "score"),
    ("conversation_messages", "conversation_id, timestamp"),
];

/// The cache value written under `key`: its length and a byte derived from the key.
fn cache_value(key: &str, len: usize) -> Vec<u8> {
    let b = key.bytes().fold(7u8, |a, c| a.wrapping_mul(31).wrapping_add(c));
    vec![b; len]
}

fn logger(path: &str) -> impl FnMut(String) {
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    move |line: String| f.write_all(format!("{line} .\n").as_bytes()).unwrap()
}

/// The DDL thread of the child: index build cycles until killed.
fn ddl_loop(db: Engine, acks: String, run: u64) {
    let mut log = logger(&acks);
    // Leftover indexes of earlier runs go first, so writes never maintain an unbounded set.
    for ix in db.indexes().unwrap() {
        if ix.name.starts_with("ix_") {
            log(format!("d {}", ix.name));
            db.execute(&format!("DROP INDEX IF EXISTS {}", ix.name)).unwrap();
            log(format!("D {}", ix.name));
        }
    }
    let mut prev: Option<String> = None;
    for k in 0u64.. {
        let (table, cols) = INDEX_SHAPES[(k % 3) as usize];
        let name = format!("ix_r{run}_{k}");
        log(format!("i {name}"));
        db.execute(&format!("CREATE INDEX CONCURRENTLY {name} ON {table}({cols})")).unwrap();
        log(format!("I {name}"));
        if let Some(p) = prev.replace(name) {
            log(format!("d {p}"));
            db.execute(&format!("DROP INDEX {p}")).unwrap();
            log(format!("D {p}"));
        }
        if k % 2 == 0 {
            let ux = format!("ux_r{run}_{k}");
            let e = db.execute(&format!("CREATE UNIQUE INDEX CONCURRENTLY {ux} ON customers(department)")).unwrap_err();
            log(format!("U {ux} {}", if e.kind() == ErrorKind::ConstraintViolation { "ok" } else { "WRONG_KIND" }));
        }
    }
}

/// The child: writes until killed, appending one line per acknowledged write.
#[test]
fn crash_child_writer() {
    let (Ok(dir), Ok(acks)) = (std::env::var("CIDB_CRASH_DIR"), std::env::var("CIDB_CRASH_ACKS")) else { return };
    let run: u64 = std::env::var("CIDB_CRASH_RUN").unwrap().parse().unwrap();
    let db = Engine::open(&dir, Config::default()).unwrap();
    logger(&acks)(format!("R {run}")); // open: the parent's kill timer starts now
    let mut handles: Vec<_> = (0..4u64)
        .map(|w| {
            let db = db.clone();
            let mut log = logger(&acks);
            std::thread::spawn(move || {
                let t = db.tenant(TENANTS[(w % 2) as usize]).unwrap();
                for i in 0u64.. {
                    let id = format!("r{run}_w{w}_{i}");
                    let line = match i % 5 {
                        0 => {
                            // department = id: unique, so a building UNIQUE index never rejects it
                            t.upsert_customer(&customer(&id, &id, ["active", "trial"][(i / 5 % 2) as usize])).unwrap();
                            format!("C {} {id}", t.name())
                        }
                        1 => {
                            let at = T0 + (run * 1_000_000 + w * 100_000 + i) as i64;
                            t.add_score(&score(&format!("cust{w}"), "churn", (i % 100) as f64 / 100.0, at)).unwrap();
                            format!("S {} cust{w} {at}", t.name())
                        }
                        2 => {
                            let m = t.append_message(&msg(&format!("cust{w}"), &format!("conv{w}"), Role::User, T0 + i as i64, &id)).unwrap();
                            format!("M {} conv{w} {}", t.name(), m.id)
                        }
                        3 => {
                            let e = ContextEntry { role: Role::Agent, content: id.clone(), timestamp: T0 + i as i64, metadata: serde_json::json!({}) };
                            t.update_context(&format!("ctx{w}"), &[e], Duration::from_secs(1 << 30), 100_000).unwrap();
                            format!("X {} ctx{w} {id}", t.name())
                        }
                        _ => {
                            let len = [40, 20_000, 150_000][(i / 5 % 3) as usize];
                            t.cache().set(&id, &cache_value(&id, len), None).unwrap();
                            format!("K {} {id} {len}", t.name())
                        }
                    };
                    log(line);
                }
            })
        })
        .collect();
    let ddl = {
        let (db, acks) = (db.clone(), acks.clone());
        std::thread::spawn(move || ddl_loop(db, acks, run))
    };
    handles.push(ddl);
    for h in handles {
        h.join().unwrap();
    }
}

/// What one check found.
#[derive(Default, Debug)]
struct Found {
    writes: usize,
    interrupted_builds: usize,
    resumed: usize,
    discarded: usize,
    indexes_checked: usize,
    cache_hits: usize,
}

fn table_rows(db: &Engine, table: &str) -> u64 {
    let mut n = 0;
    for tn in TENANTS.iter().chain([&DUP_TENANT]) {
        let r = db.tenant(tn).unwrap().query(&format!("SELECT COUNT(*) FROM {table}"), &[]).unwrap();
        match r.rows[0][0] {
            Value::Int(c) => n += c as u64,
            ref v => panic!("COUNT(*) gave {v:?}"),
        }
    }
    n
}

fn check(dir: &std::path::Path, acks: &str, first_line: usize) -> Found {
    let db = Engine::open(dir, Config::default()).expect("reopens cleanly after SIGKILL");
    let mut found = Found::default();
    // Builds the kill interrupted are resumed by the background thread; wait for it.
    let building: Vec<String> = db.indexes().unwrap().into_iter().filter(|i| !i.ready).map(|i| i.name).collect();
    let start = Instant::now();
    while db.indexes().unwrap().iter().any(|i| !i.ready) {
        assert!(start.elapsed() < Duration::from_secs(120), "interrupted builds never finished: {:?}", db.indexes().unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    let indexes = db.indexes().unwrap();
    found.interrupted_builds = building.len();
    for b in &building {
        match indexes.iter().find(|i| &i.name == b) {
            Some(_) => found.resumed += 1,
            None => found.discarded += 1,
        }
    }
    let mut index_state: HashMap<&str, &str> = HashMap::new();
    for (n, line) in acks.lines().enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.last() != Some(&".") {
            continue; // a torn last line: the child died while logging it
        }
        if n < first_line && !matches!(f[0], "i" | "I" | "d" | "D") {
            continue; // checked after an earlier kill
        }
        let t = || db.tenant(f[1]).unwrap();
        match f[0] {
            "C" => assert!(t().get_customer(f[2]).unwrap().is_some(), "acknowledged customer {line} lost"),
            "S" => {
                let at: i64 = f[3].parse().unwrap();
                assert_eq!(t().score_history(f[2], "churn", at, at + 1).unwrap().len(), 1, "acknowledged score {line} lost");
            }
            "M" => {
                let id: u64 = f[3].parse().unwrap();
                assert!(t().messages_for_conversation(f[2]).unwrap().iter().any(|m| m.id == id), "acknowledged message {line} lost");
            }
            "X" => {
                let ctx = t().get_context(f[2]).unwrap().expect("context present");
                assert!(ctx.entries.iter().any(|e| e.content == f[3]), "acknowledged context entry {line} lost");
            }
            "K" => {
                // The cache is disposable: a value may be gone, never wrong.
                let len: usize = f[3].parse().unwrap();
                if let Some(v) = t().cache().get(f[2]).unwrap() {
                    assert!(v == cache_value(f[2], len), "cache returned a wrong value for {line}");
                    found.cache_hits += 1;
                }
            }
            "U" => assert_eq!(f[2], "ok", "a UNIQUE build over duplicates failed with the wrong kind: {line}"),
            "R" => continue,
            "i" | "I" | "d" | "D" => {
                index_state.insert(f[1], f[0]);
                continue;
            }
            _ => panic!("unknown ack line {line}"),
        }
        found.writes += 1;
    }
    for (name, last) in &index_state {
        let info = indexes.iter().find(|i| i.name == *name);
        match *last {
            "I" => assert!(info.is_some_and(|i| i.ready), "acknowledged index {name} lost: {indexes:?}"),
            "D" => assert!(info.is_none(), "acknowledged DROP of {name} undone"),
            _ => {} // in flight at the kill: either outcome is allowed
        }
    }
    assert!(!indexes.iter().any(|i| i.name.starts_with("ux_")), "a UNIQUE build over duplicates survived: {indexes:?}");
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
    // every index (seeded, built, resumed) agrees with its table
    for ix in &indexes {
        let chk = db.check_index(&ix.name).unwrap();
        assert!(chk.is_exact(), "index {} disagrees with its table after SIGKILL: {chk:?}", ix.name);
        assert_eq!(ix.entries, chk.entries, "index {} reports {} entries, holds {}", ix.name, ix.entries, chk.entries);
        if ix.predicate.is_none() {
            let rows = table_rows(&db, ix.table.name());
            assert_eq!(chk.entries, rows, "index {} on {} has {} entries for {rows} rows", ix.name, ix.table.name(), chk.entries);
        }
        found.indexes_checked += 1;
    }
    // the cache tiers opened without discarding anything and L1 is sound
    let cs = db.cache_stats();
    assert!(cs.warnings.is_empty(), "the cache did not open cleanly after SIGKILL: {:?}", cs.warnings);
    db.cache().l1().check_invariants().unwrap();
    db.close().unwrap();
    found
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let iterations: u64 = std::env::var("CIDB_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    let acks = dir.path().join("acks.log");
    {
        let db = Engine::open(&db_dir, Config::default()).unwrap();
        let t = db.tenant(DUP_TENANT).unwrap();
        let rows: Vec<_> = (0..DUP_ROWS).map(|i| customer(&format!("u{i:05}"), "same", "active")).collect();
        t.upsert_customers(&rows).unwrap();
        db.close().unwrap();
    }
    let mut rng = cidb::datagen::Rng::new(std::process::id() as u64);
    let (mut last, mut interrupted, mut resumed, mut discarded, mut checks) = (Found::default(), 0, 0, 0, 0);
    let started = Instant::now();
    let mut run_start = 0;
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
        // Kill at a random moment after the child has opened the database (opening is
        // not what this test is about, and in debug builds it takes most of a short run).
        let ready = format!("R {run} .");
        let t0 = Instant::now();
        while !std::fs::read_to_string(&acks).unwrap_or_default().lines().any(|l| l == ready) {
            assert!(t0.elapsed() < Duration::from_secs(60), "the child never opened the database");
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child exited before opening the database: {status}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(20 + rng.below(480)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut log = std::fs::read_to_string(&acks).unwrap_or_default();
        if !log.is_empty() && !log.ends_with('\n') {
            // a line torn by the kill: end it so the next child's first line stands alone
            std::fs::OpenOptions::new().append(true).open(&acks).unwrap().write_all(b"\n").unwrap();
            log.push('\n');
        }
        // Every write of this run is checked after its kill; the whole log (every earlier
        // run too) after every tenth kill and the last one, so the cost stays linear.
        let full = run % 10 == 9 || run + 1 == iterations;
        last = check(&db_dir, &log, if full { 0 } else { run_start });
        run_start = log.lines().count();
        interrupted += last.interrupted_builds;
        resumed += last.resumed;
        discarded += last.discarded;
        checks += last.writes;
    }
    let idx_lines = std::fs::read_to_string(&acks).unwrap().lines().filter(|l| l.starts_with("I ")).count();
    eprintln!(
        "crash_recovery: {iterations} kills in {:.1}s; {checks} acknowledged-write checks in total ({} in the full check after the last kill), 0 lost; \
         {idx_lines} acknowledged index builds; {interrupted} builds interrupted by a kill ({resumed} resumed, {discarded} discarded); \
         {} indexes checked exact after the last kill; {} cache hits verified after the last kill",
        started.elapsed().as_secs_f64(),
        last.writes,
        last.indexes_checked,
        last.cache_hits
    );
    assert!(last.writes > 0, "the child acknowledged writes before being killed");
    assert!(idx_lines > 0, "the child completed index builds before being killed");
    if iterations >= 20 {
        // about two kills in three land during a build; none in twenty means the DDL
        // thread is not doing its job
        assert!(interrupted > 0, "no kill landed during an index build");
    }
}
