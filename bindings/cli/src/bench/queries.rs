//! The query workloads, engine-neutral: each is a list of parameter sets ([`Q`]) drawn
//! from the dataset, and each engine answers them through a [`QuerySide`]. An answer is a
//! row count plus an order-independent hash of the rows' key column, so the verification
//! pass can check that cidb and SQLite return the same rows (by count always, by key where
//! the query has no LIMIT that could cut between equal sort keys).

use super::data::{Dataset, Picker};
use cidb::datagen::{DAY_MS, DEPARTMENTS, SCORE_TYPES, STATUSES};
use cidb::Role;

/// The role filter of the recent-messages workload.
pub const RECENT_ROLE: Role = Role::User;
/// "High score" threshold (the partial index's predicate).
pub const HIGH: f64 = 0.7;

/// One query with its parameters. Customer references are global dataset indexes.
#[derive(Debug, Clone)]
pub enum Q {
    /// A customer by id.
    ById(u32),
    /// The latest score of a type.
    Latest(u32, &'static str),
    /// Score history of a type over `[from, to)`.
    History(u32, &'static str, i64, i64),
    /// Department + status + created_at in `[from, to)`, newest first, top 100.
    Segment { tenant: usize, dept: &'static str, status: &'static str, from: i64, to: i64 },
    /// Tenant + status + department, 100 rows.
    TenantQ { tenant: usize, status: &'static str, dept: &'static str },
    /// A customer by email.
    Email(u32),
    /// Scores above 0.7 with confidence at least `min_conf`, highest first, top 100.
    HighScore { tenant: usize, min_conf: f64 },
    /// A customer's messages of role [`RECENT_ROLE`] with timestamp in `[from, to)`.
    Recent(u32, i64, i64),
    /// Customers of a department whose latest score of a type is above 0.7 and who have a
    /// message after `since`.
    Join { tenant: usize, dept: &'static str, score_type: &'static str, since: i64 },
}

/// An answer: rows, and the wrapping sum of the key column's hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Out {
    /// Rows returned.
    pub rows: u64,
    /// Order-independent hash of the key column.
    pub keys: u64,
}

impl Out {
    /// Adds one row with key `k`.
    #[inline]
    pub fn add(&mut self, k: &[u8]) {
        self.rows += 1;
        self.keys = self.keys.wrapping_add(fnv(k));
    }
}

/// FNV-1a, cheap enough to run inside timed loops on both sides alike.
#[inline]
pub fn fnv(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for x in b {
        h = (h ^ *x as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// An engine that can answer [`Q`]s.
pub trait QuerySide {
    /// Runs one query.
    fn run(&mut self, q: &Q) -> Result<Out, String>;
}

/// A query workload: name, parameters, and how to treat it.
pub struct Workload {
    /// Name in the result table.
    pub name: &'static str,
    /// Parameter sets; the timed loop cycles through them.
    pub params: Vec<Q>,
    /// How many leading parameter sets the verification pass runs (the cold workload
    /// verifies on sets the timed loop never uses, so they stay cold).
    pub verify: usize,
    /// Index of the first parameter set the timed loop uses.
    pub timed_from: usize,
    /// Run every timed parameter set once before timing (hot workloads).
    pub warm: bool,
    /// Compare key hashes, not only counts (false where LIMIT may cut between ties).
    pub exact: bool,
}

fn w(name: &'static str, params: Vec<Q>, warm: bool, exact: bool) -> Workload {
    let verify = params.len().min(200);
    Workload { name, params, verify, timed_from: 0, warm, exact }
}

static IDS: std::sync::OnceLock<Vec<Box<str>>> = std::sync::OnceLock::new();

/// The customer id of global index `i`, formatted once for the whole run (by [`workloads`]):
/// both engines' timed loops take their ids from here, so neither pays for `format!` inside
/// the loop, which cost as much as a cidb cache hit and so distorted the point-read ratios.
/// Falls back to formatting for an index beyond the table (a later, larger dataset).
pub fn cid(i: u32) -> std::borrow::Cow<'static, str> {
    match IDS.get().and_then(|ids| ids.get(i as usize)) {
        Some(id) => std::borrow::Cow::Borrowed(id),
        None => std::borrow::Cow::Owned(cidb::datagen::customer_id(i as usize)),
    }
}

/// Every query workload over `ds`, with `n` parameter sets each (fewer where data is short).
pub fn workloads(ds: &Dataset, n: usize) -> Vec<Workload> {
    let now = ds.now();
    let nc = ds.customers();
    IDS.get_or_init(|| (0..nc).map(|i| cidb::datagen::customer_id(i).into_boxed_str()).collect());
    let tenants = ds.tenants.len();
    let hot = &ds.hot;
    let mut out = Vec::new();

    let mut p = Picker::zipf(1, hot.len(), 0.99);
    out.push(w("customer_by_id_hot", (0..n).map(|_| Q::ById(hot[p.pick(hot.len())])).collect(), true, true));

    // Cold: every customer at most once, in random order; verification takes other ones.
    let mut perm: Vec<u32> = (0..nc as u32).collect();
    let mut p = Picker::uniform(2);
    for i in (1..perm.len()).rev() {
        let j = p.pick(i + 1);
        perm.swap(i, j);
    }
    perm.truncate((n * 4).min(nc));
    let verify = (perm.len() / 10).clamp(1, 200);
    out.push(Workload {
        name: "customer_by_id_cold",
        params: perm.into_iter().map(Q::ById).collect(),
        verify,
        timed_from: verify,
        warm: false,
        exact: true,
    });

    let mut p = Picker::zipf(3, hot.len(), 0.99);
    let latest = (0..n)
        .map(|i| Q::Latest(hot[p.pick(hot.len())], SCORE_TYPES[i % SCORE_TYPES.len()]))
        .collect();
    out.push(w("latest_score", latest, true, true));

    let mut p = Picker::uniform(4);
    let hist = (0..n)
        .map(|i| {
            let c = p.pick(nc) as u32;
            Q::History(c, SCORE_TYPES[i % 3], now - 365 * DAY_MS, now + 1)
        })
        .collect();
    out.push(w("score_history", hist, false, true));

    let mut p = Picker::uniform(5);
    let seg = (0..n)
        .map(|_| {
            let from = now - 365 * DAY_MS + p.pick(275) as i64 * DAY_MS;
            Q::Segment {
                tenant: p.pick(tenants),
                dept: DEPARTMENTS[p.pick(DEPARTMENTS.len())],
                status: STATUSES[p.pick(3)],
                from,
                to: from + 90 * DAY_MS,
            }
        })
        .collect();
    out.push(w("segment_query", seg, false, false));

    let mut p = Picker::uniform(6);
    let tq = (0..n)
        .map(|_| Q::TenantQ { tenant: p.pick(tenants), status: STATUSES[p.pick(STATUSES.len())], dept: DEPARTMENTS[p.pick(DEPARTMENTS.len())] })
        .collect();
    out.push(w("tenant_query", tq, false, false));

    let mut p = Picker::uniform(7);
    let em = &ds.with_email;
    out.push(w("email_lookup", (0..n).map(|_| Q::Email(em[p.pick(em.len())])).collect(), false, true));

    let mut p = Picker::uniform(8);
    let hs = (0..n).map(|_| Q::HighScore { tenant: p.pick(tenants), min_conf: 0.5 + p.pick(10) as f64 * 0.05 }).collect();
    out.push(w("high_score_customers", hs, false, false));

    if !ds.recent.is_empty() {
        let r = &ds.recent;
        let mut p = Picker::zipf(9, r.len(), 0.99);
        let rm = (0..n).map(|_| Q::Recent(r[p.pick(r.len())], now - 30 * DAY_MS, now + 1)).collect();
        out.push(w("recent_messages", rm, false, true));
    }

    let mut p = Picker::uniform(10);
    let jn = (0..n.min(2_000))
        .map(|_| Q::Join {
            tenant: p.pick(tenants),
            dept: DEPARTMENTS[p.pick(DEPARTMENTS.len())],
            score_type: SCORE_TYPES[p.pick(3)],
            since: now - 30 * DAY_MS,
        })
        .collect();
    out.push(w("join_high_score_recent", jn, false, true));
    out
}

/// The Zipf-over-everything read used for the cache hit-ratio figure.
pub fn zipf_all(ds: &Dataset, n: usize) -> Workload {
    let mut p = Picker::zipf(11, ds.customers(), 0.99);
    // Ranks are spread over the id space so that popularity is not tied to load order.
    let nc = ds.customers() as u64;
    let params = (0..n)
        .map(|_| Q::ById(((p.pick(ds.customers()) as u64).wrapping_mul(0x9E37_79B9) % nc) as u32))
        .collect();
    w("customer_by_id_zipf", params, false, true)
}
