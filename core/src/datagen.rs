//! A deterministic synthetic dataset: tenants, departments, statuses, a skewed (Zipf-like)
//! activity distribution, score time series per customer and type, and conversations with
//! roles. The same seed and base time always give the same data, so the demo, the tests and
//! the benchmarks (cidb and SQLite side by side) all load identical rows.

use crate::model::{Customer, Millis, NewMessage, Role, Score};

/// Departments customers belong to.
pub const DEPARTMENTS: [&str; 8] =
    ["sales", "support", "engineering", "marketing", "finance", "operations", "legal", "hr"];
/// Lifecycle statuses, most common first.
pub const STATUSES: [&str; 5] = ["active", "trial", "at_risk", "churned", "paused"];
/// Score types each customer may have.
pub const SCORE_TYPES: [&str; 3] = ["churn_risk", "upsell", "satisfaction"];
const CHANNELS: [&str; 3] = ["chat", "email", "phone"];
/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// SplitMix64: small, fast and good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Zipf-distributed ranks in `[0, n)` with exponent `s`, by inverse CDF.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A distribution over `n` ranks (n > 0).
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n.max(1));
        let mut acc = 0.0;
        for k in 1..=n.max(1) {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    /// A rank; 0 is the most likely.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.f64();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Seed; the same seed gives the same data.
    pub seed: u64,
    /// Customers in total, spread over the tenants.
    pub customers: usize,
    /// Number of tenants (`tenant_0`, `tenant_1`, ...).
    pub tenants: usize,
    /// "Now": data spans the 365 days before it.
    pub now: Millis,
    /// Mean scores per customer and score type.
    pub scores_per_type: usize,
    /// Mean messages per customer.
    pub messages_per_customer: usize,
}

impl GenConfig {
    /// Defaults for `customers` customers at time `now`.
    pub fn new(customers: usize, seed: u64, now: Millis) -> GenConfig {
        GenConfig { seed, customers, tenants: 3, now, scores_per_type: 3, messages_per_customer: 6 }
    }
}

/// One generated customer with its scores and messages.
#[derive(Debug, Clone)]
pub struct GenCustomer {
    /// The tenant it belongs to.
    pub tenant: String,
    /// The customer.
    pub customer: Customer,
    /// Its score history (all types), oldest first per type.
    pub scores: Vec<Score>,
    /// Its messages, in conversation order.
    pub messages: Vec<NewMessage>,
}

/// The tenant name for index `i`.
pub fn tenant_name(i: usize) -> String {
    format!("tenant_{i}")
}

/// The customer id for global index `i`.
pub fn customer_id(i: usize) -> String {
    format!("cust_{i:08}")
}

/// Generates the dataset lazily, one customer at a time.
pub fn generate(cfg: &GenConfig) -> impl Iterator<Item = GenCustomer> + '_ {
    let activity = Zipf::new(1000, 1.0);
    (0..cfg.customers).map(move |i| one(cfg, &activity, i))
}

fn one(cfg: &GenConfig, activity: &Zipf, i: usize) -> GenCustomer {
    let mut rng = Rng::new(cfg.seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
    let tenant = tenant_name(i % cfg.tenants.max(1));
    let id = customer_id(i);
    let year = 365 * DAY_MS;
    let created_at = cfg.now - year + (rng.below(year as u64) as i64);
    let status_weights = [0.55, 0.15, 0.12, 0.13, 0.05];
    let mut u = rng.f64();
    let mut status = STATUSES[0];
    for (s, w) in STATUSES.iter().zip(status_weights) {
        if u < w {
            status = s;
            break;
        }
        u -= w;
    }
    let department = DEPARTMENTS[Zipf::new(DEPARTMENTS.len(), 0.6).sample(&mut rng)];
    let email = (rng.f64() < 0.8).then(|| format!("{id}@example.com"));
    let name = (rng.f64() < 0.9).then(|| format!("Customer {i}"));
    let plan = ["free", "pro", "enterprise"][rng.below(3) as usize];
    let customer = Customer {
        id: id.clone(),
        email,
        name,
        department: department.to_string(),
        status: status.to_string(),
        created_at,
        updated_at: created_at + rng.below((cfg.now - created_at).max(1) as u64) as i64,
        attributes: serde_json::json!({ "plan": plan, "seats": 1 + rng.below(200) }),
    };
    // Activity: rank 0 is the most active customer. For Zipf(1) over 1000 ranks,
    // E[1/k] is about 0.2196, so this weight has mean 1 and the config sets the mean counts.
    let weight = 1.0 / ((1.0 + activity.sample(&mut rng) as f64) * 0.2196);
    let mut scores = Vec::new();
    for st in SCORE_TYPES {
        let n = ((cfg.scores_per_type as f64) * weight).round().clamp(1.0, 50.0) as usize;
        let mut level: f64 = if status == "at_risk" || status == "churned" { 0.7 } else { 0.3 };
        for k in 0..n {
            level = (level + (rng.f64() - 0.5) * 0.2).clamp(0.0, 1.0);
            let t = created_at + ((cfg.now - created_at) / (n as i64 + 1)) * (k as i64 + 1);
            scores.push(Score {
                customer_id: id.clone(),
                score_type: st.to_string(),
                score: (level * 1000.0).round() / 1000.0,
                    confidence: ((0.5 + rng.f64() * 0.5) * 1000.0).round() / 1000.0,
                created_at: t,
                model: Some(format!("{st}_v{}", 1 + rng.below(3))),
            });
        }
    }
    let n_msgs = ((cfg.messages_per_customer as f64) * weight).round().clamp(0.0, 200.0) as usize;
    let mut messages = Vec::with_capacity(n_msgs);
    let mut conv = 0;
    let mut t = cfg.now - (rng.below(90) as i64) * DAY_MS;
    for k in 0..n_msgs {
        if k % 6 == 0 {
            conv += 1;
        }
        t += (rng.below(3_600_000) as i64).max(1000);
        let role = if k % 2 == 0 { Role::User } else if rng.f64() < 0.8 { Role::Assistant } else { Role::Agent };
        messages.push(NewMessage {
            customer_id: id.clone(),
            conversation_id: format!("{id}_conv_{conv}"),
            role,
            timestamp: t.min(cfg.now),
            content: format!("message {k} from {} about {department}", role.as_str()),
            metadata: serde_json::json!({ "channel": CHANNELS[rng.below(3) as usize] }),
        });
    }
    GenCustomer { tenant, customer, scores, messages }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_valid() {
        let cfg = GenConfig::new(200, 7, 1_800_000_000_000);
        let a: Vec<_> = generate(&cfg).collect();
        let b: Vec<_> = generate(&cfg).collect();
        assert_eq!(a.len(), 200);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.customer, y.customer);
            assert_eq!(x.scores, y.scores);
            assert_eq!(x.messages, y.messages);
            x.customer.validate().unwrap();
            for s in &x.scores {
                s.validate().unwrap();
            }
            for m in &x.messages {
                m.validate(&Default::default()).unwrap();
            }
        }
        let other: Vec<_> = generate(&GenConfig::new(200, 8, 1_800_000_000_000)).collect();
        assert_ne!(a[0].customer, other[0].customer);
    }

    #[test]
    fn activity_is_skewed() {
        let cfg = GenConfig::new(2000, 1, 1_800_000_000_000);
        let mut counts: Vec<usize> = generate(&cfg).map(|g| g.messages.len()).collect();
        counts.sort_unstable();
        let top: usize = counts[counts.len() - 200..].iter().sum();
        let total: usize = counts.iter().sum();
        assert!(top * 3 > total, "top 10% should hold over a third of messages: {top} of {total}");
    }
}
