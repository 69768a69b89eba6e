//! Power loss with the commit log: after a clean close (the data file is fsynced and the log
//! empty) a copy of `data.redb` is kept aside, which is what the disk may hold of the data
//! file after a power cut, since commits no longer fsync it. A child process then makes
//! acknowledged writes (customers, deletes, scores, messages; an index is maintained) and is
//! killed with SIGKILL while it keeps writing. The stale copy is put back, the log kept, and
//! the reopened engine must hold every acknowledged write, with exact indexes and counts.

mod common;
use cidb::{Config, Engine, Role, Value};

/// The commit log is off by default; these engines turn it on.
fn log_on() -> Config {
    Config { commit_log: true, ..Config::default() }
}
use common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const OPS: u64 = 400;

/// The child: the deterministic writes, a `DONE` marker, then unlogged writes until killed.
#[test]
fn wal_child_writer() {
    let Ok(dir) = std::env::var("CIDB_WAL_DIR") else { return };
    let db = Engine::open(&dir, log_on()).unwrap();
    let t = db.tenant("t").unwrap();
    apply(&t, &mut Model::default());
    std::fs::write(format!("{dir}/DONE"), b"done").unwrap();
    let noise = db.tenant("noise").unwrap();
    for i in 0u64.. {
        noise.upsert_customer(&customer(&format!("n{}", i % 50), "dn", "active")).unwrap();
        if i > 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[derive(Default, Debug)]
struct Model {
    customers: BTreeMap<String, (String, String)>,
    scores: u64,
    messages: u64,
}

/// The writes of the child (each acknowledged when the call returns), mirrored in `m`.
fn apply(t: &cidb::Tenant, m: &mut Model) {
    let mut rng = cidb::datagen::Rng::new(4242);
    for i in 0..OPS {
        let id = format!("c{}", rng.below(150));
        match rng.below(5) {
            0 | 1 => {
                let (d, s) = (["d1", "d2", "d3"][rng.below(3) as usize], ["active", "trial", "churned"][rng.below(3) as usize]);
                t.upsert_customer(&customer(&id, d, s)).unwrap();
                m.customers.insert(id, (d.into(), s.into()));
            }
            2 => {
                let had = t.delete_customer(&id).unwrap();
                assert_eq!(had, m.customers.remove(&id).is_some());
            }
            3 => {
                t.add_score(&score(&id, "churn", rng.below(100) as f64 / 100.0, T0 + i as i64)).unwrap();
                m.scores += 1;
            }
            _ => {
                let batch: Vec<_> = (0..8).map(|k| msg(&id, &format!("v{k}"), Role::User, T0 + (i * 8 + k) as i64, "hello there")).collect();
                t.append_messages(&batch).unwrap();
                m.messages += 8;
            }
        }
    }
}

/// The epoch in the commit log's header.
fn log_epoch(dir: &std::path::Path) -> u64 {
    let log = std::fs::read(dir.join("data.redb.wal")).unwrap();
    u64::from_le_bytes(log[8..16].try_into().unwrap())
}

fn int(db: &Engine, tenant: &str, sql: &str) -> i64 {
    let q = db.tenant(tenant).unwrap().query(sql, &[]).unwrap();
    let Value::Int(n) = q.rows[0][0] else { panic!("{sql}: not an integer") };
    n
}

#[test]
fn acknowledged_writes_survive_a_stale_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.redb");
    {
        let db = Engine::open(dir.path(), log_on()).unwrap();
        db.execute("CREATE INDEX ix_wal_status ON customers(status, department)").unwrap();
        db.tenant("t").unwrap().upsert_customer(&customer("base", "d0", "active")).unwrap();
        db.close().unwrap();
    }
    let epoch0 = log_epoch(dir.path());
    let stale = dir.path().join("data.redb.stale");
    std::fs::copy(&data, &stale).unwrap();

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["wal_child_writer", "--exact", "--nocapture"])
        .env("CIDB_WAL_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.path().join("DONE").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the child died before finishing its writes");
        assert!(start.elapsed() < Duration::from_secs(120), "the child did not finish in time");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30)); // killed while it keeps writing
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The child's open had nothing to replay, so it kept the epoch; a checkpoint (data file
    // fsynced) would have started a new one and made the copy older than what a real disk
    // would hold.
    assert_eq!(log_epoch(dir.path()), epoch0, "the child checkpointed: the simulation is void");
    // The disk after a power cut: the data file as of its last fsync, the log as synced.
    std::fs::copy(&stale, &data).unwrap();
    assert!(std::fs::metadata(dir.path().join("data.redb.wal")).unwrap().len() > 0);

    let mut m = Model::default();
    m.customers.insert("base".into(), ("d0".into(), "active".into()));
    {
        // What the stale file holds alone (a scratch copy without the log): far behind.
        let scratch = tempfile::tempdir().unwrap();
        std::fs::copy(&stale, scratch.path().join("data.redb")).unwrap();
        let db = Engine::open(scratch.path(), log_on()).unwrap();
        assert_eq!(int(&db, "t", "SELECT COUNT(*) FROM customers"), 1, "the copy is not stale: the test proves nothing");
        db.close().unwrap();
    }

    let db = Engine::open(dir.path(), log_on()).expect("reopens after the power cut");
    let t = db.tenant("t").unwrap();
    {
        // The model, computed by the same writes against a scratch engine's tenant.
        let scratch = tempfile::tempdir().unwrap();
        let e = Engine::open(scratch.path(), log_on()).unwrap();
        apply(&e.tenant("t").unwrap(), &mut m);
        e.close().unwrap();
    }
    assert!(m.customers.len() > 50 && m.scores > 30 && m.messages > 200, "too few writes: {m:?}");
    assert_eq!(int(&db, "t", "SELECT COUNT(*) FROM customers"), m.customers.len() as i64);
    assert_eq!(int(&db, "t", "SELECT COUNT(*) FROM customer_scores"), m.scores as i64);
    assert_eq!(int(&db, "t", "SELECT COUNT(*) FROM conversation_messages"), m.messages as i64);
    assert_eq!(t.count_customers().unwrap(), m.customers.len() as u64);
    for (id, (d, s)) in &m.customers {
        let c = t.get_customer(id).unwrap().unwrap_or_else(|| panic!("acknowledged customer {id} lost"));
        assert_eq!((&c.department, &c.status), (d, s), "customer {id}");
    }
    // The index answers what the model says, and holds exactly the table's rows.
    for s in ["active", "trial", "churned"] {
        let want = m.customers.values().filter(|(_, st)| st == s).count() as i64;
        assert_eq!(int(&db, "t", &format!("SELECT COUNT(*) FROM customers WHERE status = '{s}'")), want, "status {s}");
    }
    for ix in db.indexes().unwrap() {
        let chk = db.check_index(&ix.name).unwrap();
        assert!(chk.is_exact(), "index {} inexact after replay: {chk:?}", ix.name);
    }
    // The noise tenant (writes in flight at the kill) holds at most its 50 ids.
    assert!(int(&db, "noise", "SELECT COUNT(*) FROM customers") <= 50);
    db.close().unwrap();
}
