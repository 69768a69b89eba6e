//! The change-feed workload (issue 12): durable score writes from several threads with 0,
//! 1 and 10 callback subscribers on the `customer_scores` table, giving write throughput
//! per subscriber count and the end-to-end event latency (from the start of the write call
//! to the subscriber's callback) at p50 and p99.

use super::data::{Dataset, Picker};
use super::measure::{run_threads, Histogram};
use super::row::Row;
use super::writes::new_score;
use super::{Outcome, Settings};
use cidb::feed::{Delivery, Filter};
use cidb::Result;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITERS: usize = 8;
const PER_WRITER: u64 = 1 << 17;

struct Shared {
    base: Instant,
    /// Start of write `k`, ns after `base` (0 = not started).
    starts: Vec<AtomicU64>,
    /// created_at of write 0; write k has created_at = first + k.
    first: AtomicU64,
}

/// Runs the feed workloads.
pub fn run_all(s: &Settings, ds: &Dataset, out: &mut Outcome) -> Result<()> {
    let mut base_rate = None;
    for subs in [0usize, 1, 10] {
        let name = format!("feed_writes_{subs}_subscribers");
        if !s.wants(&name) {
            continue;
        }
        eprintln!("  {name}");
        let row = one(s, ds, subs, &name)?;
        let rate = row.operations_per_second;
        let row = match base_rate {
            None if subs == 0 => {
                base_rate = Some(rate);
                row
            }
            Some(b) if b > 0.0 => row.with("throughput_vs_0_subscribers", (rate / b * 1000.0).round() / 1000.0),
            _ => row,
        };
        out.rows.push(row);
    }
    Ok(())
}

fn one(s: &Settings, ds: &Dataset, subs: usize, name: &str) -> Result<Row> {
    let tenant = &ds.tenants[0];
    let shared = Arc::new(Shared {
        base: Instant::now(),
        starts: (0..WRITERS as u64 * PER_WRITER).map(|_| AtomicU64::new(0)).collect(),
        first: AtomicU64::new(0),
    });
    let filter = Filter { tables: vec!["customer_scores".into()], ..Default::default() };
    let mut handles = Vec::new();
    let mut hists = Vec::new();
    let received = Arc::new(AtomicU64::new(0));
    let missed = Arc::new(AtomicU64::new(0));
    for _ in 0..subs {
        let h = Arc::new(Mutex::new(Histogram::default()));
        let (hh, sh, rc, ms) = (h.clone(), shared.clone(), received.clone(), missed.clone());
        let sub = tenant.subscribe_callback(filter.clone(), move |d| match d {
            Delivery::Event(e) => {
                let now = sh.base.elapsed().as_nanos() as u64;
                let at = e.new.as_ref().and_then(|n| n.get("created_at")).and_then(|v| v.as_i64()).unwrap_or(0);
                let k = (at as u64).checked_sub(sh.first.load(Ordering::Relaxed)).unwrap_or(u64::MAX);
                if let Some(st) = sh.starts.get(k as usize).map(|x| x.load(Ordering::Relaxed)).filter(|st| *st > 0) {
                    hh.lock().unwrap_or_else(|e| e.into_inner()).record(now.saturating_sub(st));
                }
                rc.fetch_add(1, Ordering::Relaxed);
            }
            Delivery::Missed { count, .. } => {
                ms.fetch_add(count, Ordering::Relaxed);
            }
        })?;
        handles.push(sub);
        hists.push(h);
    }
    // Every write of this run gets a created_at of `first + k` with k its slot in `starts`.
    let first = ds.now() + 10_000_000_000 + subs as i64 * 1_000_000_000;
    shared.first.store(first as u64, Ordering::Relaxed);
    let budget = super::measure::Budget { max_ops: PER_WRITER, ..s.budget_x(1.5) };
    let m = run_threads(WRITERS, budget, |t| {
        let mut p = Picker::uniform(1_000 + t as u64);
        let sh = shared.clone();
        move |i| {
            let (_, mut sc) = new_score(ds, &mut p);
            let k = t as u64 * PER_WRITER + i;
            sc.created_at = first + k as i64;
            sh.starts[k as usize].store(sh.base.elapsed().as_nanos() as u64, Ordering::Relaxed);
            tenant.add_score(&sc).map(|()| 1).map_err(|e| e.to_string())
        }
    });
    let expected = (m.ops - m.errors) * subs as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::Relaxed) + missed.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(handles);
    let mut all = Histogram::default();
    for h in &hists {
        all.merge(&h.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let mut row = Row::new(name, "cidb", WRITERS, &m)
        .with("subscribers", subs)
        .with("events_received", received.load(Ordering::Relaxed))
        .with("events_missed", missed.load(Ordering::Relaxed));
    if subs > 0 {
        row = row
            .with("event_latency_p50_us", (all.quantile(0.5) / 100.0).round() / 10.0)
            .with("event_latency_p99_us", (all.quantile(0.99) / 100.0).round() / 10.0);
    }
    Ok(row)
}
