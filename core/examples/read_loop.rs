//! A read loop to profile one read workload of `cidb bench` on its own (`perf record` on
//! this binary instead of the whole bench): loads the bench's generated dataset into `dir`
//! once (production profile; later runs reuse it), then runs one workload for `seconds`
//! and prints one line of JSON `{"workload": w, "ops": n, "ns_per_op": x, "cpu_ns_per_op": y}`
//! (the thread's CPU time, which a busy machine does not inflate). Workloads:
//! `email` (the bench's EMAIL_SQL), `recent` (`messages_for_customer`), `segment`
//! (SEGMENT_SQL), `tenant` (TENANT_SQL), with parameters shaped like the bench's (random
//! department, status and 90-day window).
//!
//!   cargo run --release -p cidb --example read_loop DIR [customers=200000] [workload=email] [seconds=5]

use cidb::datagen::{customer_id, generate, tenant_name, GenConfig, Rng, DAY_MS, DEPARTMENTS, STATUSES};
use cidb::schema::Value;
use cidb::{Config, Engine, Profile, Role};
use std::time::{Duration, Instant};

const NOW: i64 = 1_764_000_000_000;

fn main() -> cidb::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("a directory"));
    let n: usize = args.next().map_or(200_000, |a| a.parse().expect("customers"));
    let workload = args.next().unwrap_or_else(|| "email".into());
    let secs: f64 = args.next().map_or(5.0, |a| a.parse().expect("seconds"));
    let fresh = !dir.join("data.redb").exists();
    let engine = Engine::open(&dir, Config::profile(Profile::Production))?;
    let cfg = GenConfig::new(n, 42, NOW);
    let tenants: Vec<_> = (0..cfg.tenants).map(|t| engine.tenant(&tenant_name(t))).collect::<cidb::Result<_>>()?;
    if fresh {
        let mut chunk = Vec::new();
        for g in generate(&cfg) {
            chunk.push(g);
            if chunk.len() == 2000 {
                load(&tenants, &mut chunk)?;
            }
        }
        load(&tenants, &mut chunk)?;
    }
    let nt = tenants.len();
    let stmt = |sql: &str| tenants.iter().map(|t| t.prepare(sql)).collect::<cidb::Result<Vec<_>>>();
    let email = stmt("SELECT * FROM customers WHERE email = ?")?;
    let segment = stmt("SELECT * FROM customers WHERE department = ? AND status = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC LIMIT 100")?;
    let tenant_q = stmt("SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 100")?;
    let text = |s: &str| Value::Text(s.to_string());
    let (mut ops, mut rows) = (0u64, 0usize);
    let mut i = 0usize;
    // The bench's parameter shapes: random department, status and 90-day window.
    let mut rng = Rng::new(5);
    // Untimed rounds first (20,000 queries at 200k customers): the timed part reads warm caches.
    let mut warm = n / 1000 + 1;
    let (mut start, limit, mut cpu) = (Instant::now(), Duration::from_secs_f64(secs), thread_cpu_ns());
    while warm > 0 || start.elapsed() < limit {
        if warm > 0 {
            warm -= 1;
            if warm == 0 {
                (start, cpu, ops, rows) = (Instant::now(), thread_cpu_ns(), 0, 0);
            }
        }
        for _ in 0..100 {
            i = (i + 7919) % n;
            let t = i % nt;
            rows += match workload.as_str() {
                "email" => email[t].query(&[Value::Text(format!("{}@example.com", customer_id(i)))])?.rows.len(),
                "recent" => tenants[t].messages_for_customer(&customer_id(i), NOW - 30 * 86_400_000, NOW, Some(Role::User), 0)?.len(),
                "segment" => {
                    let from = NOW - 365 * DAY_MS + rng.below(275) as i64 * DAY_MS;
                    let dept = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize];
                    let status = STATUSES[rng.below(3) as usize];
                    segment[t].query(&[text(dept), text(status), Value::Int(from), Value::Int(from + 90 * DAY_MS)])?.rows.len()
                }
                "tenant" => {
                    let dept = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize];
                    let status = STATUSES[rng.below(STATUSES.len() as u64) as usize];
                    tenant_q[t].query(&[text(tenants[t].name()), text(status), text(dept)])?.rows.len()
                }
                w => panic!("unknown workload {w}"),
            };
            ops += 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / ops as f64;
    let cpu = (thread_cpu_ns() - cpu) as f64 / ops as f64;
    println!("{{\"workload\": \"{workload}\", \"ops\": {ops}, \"rows\": {rows}, \"ns_per_op\": {ns:.0}, \"cpu_ns_per_op\": {cpu:.0}}}");
    engine.close()
}

fn load(tenants: &[cidb::Tenant], chunk: &mut Vec<cidb::datagen::GenCustomer>) -> cidb::Result<()> {
    for t in tenants {
        let mine: Vec<_> = chunk.iter().filter(|g| g.tenant == t.name()).collect();
        t.upsert_customers(&mine.iter().map(|g| g.customer.clone()).collect::<Vec<_>>())?;
        t.add_scores(&mine.iter().flat_map(|g| g.scores.iter().cloned()).collect::<Vec<_>>())?;
        t.append_messages(&mine.iter().flat_map(|g| g.messages.iter().cloned()).collect::<Vec<_>>())?;
    }
    chunk.clear();
    Ok(())
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
