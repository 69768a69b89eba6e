//! The benchmark dataset: `datagen` customers (with their score histories and messages)
//! loaded into a cidb engine and, when comparing, into SQLite through a sink, in the same
//! chunks; plus what the workloads need to pick parameters that hit data (which customers
//! have an email, which have recent messages, the hot set).

use super::measure::Histogram;
use cidb::datagen::{customer_id, generate, tenant_name, GenConfig, GenCustomer, Rng, Zipf, DAY_MS};
use cidb::{Engine, Message, Result, Tenant};
use std::time::{Duration, Instant};

/// Customers per load chunk (one transaction per table and tenant on the cidb side).
pub const CHUNK: usize = 2_000;

/// What the workloads know about the loaded data.
pub struct Dataset {
    /// Generator settings (seed, size, "now").
    pub cfg: GenConfig,
    /// Tenant handles, by tenant index.
    pub tenants: Vec<Tenant>,
    /// Global indexes of customers that have an email.
    pub with_email: Vec<u32>,
    /// Global indexes of customers with a message in the last 30 days.
    pub recent: Vec<u32>,
    /// The hot set: global indexes, hottest first.
    pub hot: Vec<u32>,
}

impl Dataset {
    /// Customers in total.
    pub fn customers(&self) -> usize {
        self.cfg.customers
    }

    /// Tenant index of a customer.
    pub fn tenant_of(&self, i: u32) -> usize {
        i as usize % self.cfg.tenants.max(1)
    }

    /// Tenant name by index.
    pub fn tenant_name(&self, t: usize) -> String {
        tenant_name(t)
    }

    /// Customer id of a global index.
    pub fn id(&self, i: u32) -> String {
        customer_id(i as usize)
    }

    /// "Now" of the data.
    pub fn now(&self) -> i64 {
        self.cfg.now
    }
}

/// Time spent loading, per engine.
#[derive(Default)]
pub struct LoadTimes {
    /// cidb write time.
    pub cidb: Duration,
    /// SQLite write time (0 without a sink).
    pub sqlite: Duration,
    /// Customers, scores and messages loaded.
    pub rows: u64,
    /// cidb latency per chunk.
    pub cidb_hist: Histogram,
    /// SQLite latency per chunk.
    pub sqlite_hist: Histogram,
}

/// Receives each loaded chunk (customers with their scores, and the stored messages with
/// the ids cidb assigned) to write the same rows elsewhere.
pub type Sink<'a> = dyn FnMut(&str, &[GenCustomer], &[Message]) -> std::result::Result<(), String> + 'a;

/// Loads `cfg` into `engine` (and `sink`), returning the dataset description.
pub fn load(engine: &Engine, cfg: GenConfig, mut sink: Option<&mut Sink<'_>>, hot_size: usize) -> Result<(Dataset, LoadTimes)> {
    let tenants: Vec<Tenant> = (0..cfg.tenants.max(1)).map(|t| engine.tenant(&tenant_name(t))).collect::<Result<_>>()?;
    let mut times = LoadTimes::default();
    let (mut with_email, mut recent) = (Vec::new(), Vec::new());
    let since = cfg.now - 30 * DAY_MS;
    let mut chunk: Vec<GenCustomer> = Vec::with_capacity(CHUNK);
    let mut flush = |chunk: &mut Vec<GenCustomer>, times: &mut LoadTimes| -> Result<()> {
        for tenant in &tenants {
            let mine: Vec<GenCustomer> = chunk.iter().filter(|g| g.tenant == tenant.name()).cloned().collect();
            if mine.is_empty() {
                continue;
            }
            let customers: Vec<_> = mine.iter().map(|g| g.customer.clone()).collect();
            let scores: Vec<_> = mine.iter().flat_map(|g| g.scores.iter().cloned()).collect();
            let msgs: Vec<_> = mine.iter().flat_map(|g| g.messages.iter().cloned()).collect();
            let start = Instant::now();
            tenant.upsert_customers(&customers)?;
            tenant.add_scores(&scores)?;
            let stored = tenant.append_messages(&msgs)?;
            let took = start.elapsed();
            times.cidb += took;
            times.cidb_hist.record(took.as_nanos() as u64);
            times.rows += (customers.len() + scores.len() + stored.len()) as u64;
            if let Some(s) = sink.as_mut() {
                let start = Instant::now();
                s(tenant.name(), &mine, &stored).map_err(|e| cidb::Error::new(cidb::ErrorKind::Storage, format!("SQLite load: {e}")))?;
                let took = start.elapsed();
                times.sqlite += took;
                times.sqlite_hist.record(took.as_nanos() as u64);
            }
        }
        chunk.clear();
        Ok(())
    };
    for (i, g) in generate(&cfg).enumerate() {
        if g.customer.email.is_some() {
            with_email.push(i as u32);
        }
        if g.messages.iter().any(|m| m.timestamp >= since) {
            recent.push(i as u32);
        }
        chunk.push(g);
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut times)?;
        }
    }
    flush(&mut chunk, &mut times)?;
    let hot = hot_set(&cfg, hot_size);
    Ok((Dataset { cfg, tenants, with_email, recent, hot }, times))
}

/// A hot set of `n` customers spread over the id space (deterministic).
fn hot_set(cfg: &GenConfig, n: usize) -> Vec<u32> {
    let mut rng = Rng::new(cfg.seed ^ 0x4057);
    let n = n.min(cfg.customers).max(1);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let i = rng.below(cfg.customers as u64) as u32;
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

/// A parameter picker: Zipf over a list (rank 0 = first element) or uniform.
pub struct Picker {
    rng: Rng,
    zipf: Option<Zipf>,
}

impl Picker {
    /// Zipf with exponent `s` over `n` ranks.
    pub fn zipf(seed: u64, n: usize, s: f64) -> Picker {
        Picker { rng: Rng::new(seed), zipf: Some(Zipf::new(n.max(1), s)) }
    }

    /// Uniform.
    pub fn uniform(seed: u64) -> Picker {
        Picker { rng: Rng::new(seed), zipf: None }
    }

    /// An index in `[0, n)`.
    pub fn pick(&mut self, n: usize) -> usize {
        match &self.zipf {
            Some(z) => z.sample(&mut self.rng).min(n.saturating_sub(1)),
            None => self.rng.below(n as u64) as usize,
        }
    }

    /// The generator, for other random choices.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}
