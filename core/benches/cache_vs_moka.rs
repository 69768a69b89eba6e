//! L1 beside moka on the same traces, in one run:
//! - hit ratio for Zipf 0.99 and 0.8 with the cache at 1 % and 10 % of the keys, and for a
//!   scan-polluted trace (Zipf 0.99 with one quarter of the accesses being a sequential
//!   scan of never-repeated keys);
//! - throughput of 1 and 2 threads at 90 % reads (Zipf 0.99, cache at 10 %);
//! - hit latency (criterion, plus a median over timed batches).
//!
//! Run: `cargo bench -p cidb --bench cache_vs_moka`. Both caches see the same key and
//! value types (`Arc<[u8]>`) and are bounded by item count only.

use cidb::cache::l1::{Lookup, L1, NEVER};
use criterion::Criterion;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

type Bytes = Arc<[u8]>;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n).map(|i| {
        acc += 1.0 / (i as f64).powf(s);
        acc
    }).collect();
    for x in &mut cdf {
        *x /= acc;
    }
    cdf
}

/// Keys are ranks scrambled so that popular keys are not numerically adjacent.
fn zipf_trace(n: usize, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let cdf = zipf_cdf(n, s);
    let mut rng = Rng(seed);
    (0..len)
        .map(|_| {
            let u = rng.unit();
            let rank = cdf.partition_point(|&c| c < u) as u64;
            rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
        .collect()
}

fn scan_polluted(n: usize, len: usize) -> Vec<u64> {
    let z = zipf_trace(n, 0.99, len, 11);
    let mut scan = 1u64 << 62;
    z.into_iter()
        .enumerate()
        .map(|(i, k)| {
            if (i / 2_000) % 4 == 3 {
                scan += 1;
                scan
            } else {
                k
            }
        })
        .collect()
}

fn key(k: u64) -> Bytes {
    Arc::from(&k.to_le_bytes()[..])
}

fn ratio_l1(trace: &[u64], cap: usize) -> f64 {
    let l1: L1<Bytes> = L1::new(cap, usize::MAX / 2);
    let mut hits = 0usize;
    for &k in trace {
        let kb = k.to_le_bytes();
        match l1.get(&kb, 0) {
            Lookup::Hit(_) => hits += 1,
            _ => {
                let kk = key(k);
                l1.insert(kk.clone(), kk, 1, NEVER, || true);
            }
        }
    }
    hits as f64 / trace.len() as f64
}

fn ratio_moka(trace: &[u64], cap: usize) -> f64 {
    let m: moka::sync::Cache<Bytes, Bytes> = moka::sync::Cache::new(cap as u64);
    let mut hits = 0usize;
    for &k in trace {
        let kb = k.to_le_bytes();
        if m.get(&kb[..]).is_some() {
            hits += 1;
        } else {
            let kk = key(k);
            m.insert(kk.clone(), kk);
        }
    }
    hits as f64 / trace.len() as f64
}

trait Bench: Send + Sync {
    fn get(&self, k: &[u8]) -> bool;
    fn put(&self, k: Bytes);
}
impl Bench for L1<Bytes> {
    fn get(&self, k: &[u8]) -> bool {
        matches!(L1::get(self, k, 0), Lookup::Hit(_))
    }
    fn put(&self, k: Bytes) {
        self.insert(k.clone(), k, 1, NEVER, || true);
    }
}
impl Bench for moka::sync::Cache<Bytes, Bytes> {
    fn get(&self, k: &[u8]) -> bool {
        moka::sync::Cache::get(self, k).is_some()
    }
    fn put(&self, k: Bytes) {
        self.insert(k.clone(), k);
    }
}

/// Operations per second with `threads` threads at 90 % reads.
fn throughput(cache: Arc<dyn Bench>, trace: &Arc<Vec<u64>>, threads: usize) -> f64 {
    for &k in trace.iter().take(200_000) {
        if !cache.get(&k.to_le_bytes()) {
            cache.put(key(k));
        }
    }
    let per = trace.len() / threads;
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (c, tr) = (cache.clone(), trace.clone());
            std::thread::spawn(move || {
                for (i, &k) in tr[t * per..(t + 1) * per].iter().enumerate() {
                    let kb = k.to_le_bytes();
                    if i % 10 == 9 {
                        c.put(key(k));
                    } else {
                        black_box(c.get(&kb));
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    (per * threads) as f64 / start.elapsed().as_secs_f64()
}

fn median_hit_ns(cache: &dyn Bench, keys: &[u64]) -> f64 {
    let mut samples = Vec::with_capacity(2_000);
    for r in 0..2_000 {
        let start = Instant::now();
        for j in 0..256 {
            let k = keys[(r * 256 + j) % keys.len()].to_le_bytes();
            black_box(cache.get(black_box(&k)));
        }
        samples.push(start.elapsed().as_nanos() as f64 / 256.0);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

fn main() {
    const N: usize = 100_000;
    const LEN: usize = 1_000_000;
    println!("== hit ratio (get; insert on miss), {N} keys, {LEN} accesses ==");
    println!("{:<28} {:>8} {:>8} {:>8} {:>7}", "trace", "cache", "cidb L1", "moka", "L1/moka");
    let traces = [
        ("zipf 0.99", zipf_trace(N, 0.99, LEN, 1)),
        ("zipf 0.8", zipf_trace(N, 0.8, LEN, 2)),
        ("scan-polluted zipf 0.99", scan_polluted(N, LEN)),
    ];
    for (name, trace) in &traces {
        for pct in [1usize, 10] {
            let cap = N * pct / 100;
            let (a, b) = (ratio_l1(trace, cap), ratio_moka(trace, cap));
            println!("{name:<28} {:>7}% {:>8.4} {:>8.4} {:>7.3}", pct, a, b, a / b);
        }
    }

    if std::env::var_os("CIDB_BENCH_RATIO_ONLY").is_some() {
        return;
    }
    println!("== throughput, 90 % reads, zipf 0.99, cache 10 % of {N} keys (Mops/s, best of 3) ==");
    let trace = Arc::new(zipf_trace(N, 0.99, 4_000_000, 5));
    for threads in [1usize, 2] {
        let best = |mk: &dyn Fn() -> Arc<dyn Bench>| (0..3).map(|_| throughput(mk(), &trace, threads)).fold(0.0f64, f64::max);
        let l1 = best(&|| Arc::new(L1::<Bytes>::new(N / 10, usize::MAX / 2)) as Arc<dyn Bench>);
        let mk = best(&|| Arc::new(moka::sync::Cache::<Bytes, Bytes>::new((N / 10) as u64)) as Arc<dyn Bench>);
        println!("{threads} thread(s): cidb L1 {:.2}  moka {:.2}  L1/moka {:.2}", l1 / 1e6, mk / 1e6, l1 / mk);
    }

    println!("== hit latency (median of 2,000 batches of 256 hits on 1,000 resident keys) ==");
    let l1 = L1::<Bytes>::new(10_000, usize::MAX / 2);
    let m = moka::sync::Cache::<Bytes, Bytes>::new(10_000);
    let keys: Vec<u64> = (0..1_000u64).map(|k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
    for &k in &keys {
        Bench::put(&l1, key(k));
        Bench::put(&m, key(k));
    }
    m.run_pending_tasks();
    let (a, b) = (median_hit_ns(&l1, &keys), median_hit_ns(&m, &keys));
    println!("cidb L1 {a:.1} ns  moka {b:.1} ns");

    let mut c = Criterion::default().configure_from_args().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    let mut i = 0usize;
    c.bench_function("l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            Bench::get(&l1, &keys[i].to_le_bytes())
        })
    });
    let mut j = 0usize;
    c.bench_function("moka_hit", |b| {
        b.iter(|| {
            j = (j + 1) % keys.len();
            Bench::get(&m, &keys[j].to_le_bytes())
        })
    });
    c.final_summary();
}
