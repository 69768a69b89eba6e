//! Engine configuration: the named profiles (development, production) and every knob the
//! engine reads at open. Later layers (TOML files, `CIDB_*` variables) only produce a
//! [`Config`]; nothing else in the engine reads the environment.

mod load;

pub use load::{load, Setting, KEYS};

use crate::error::{err, ErrorKind, Result};
use crate::model::{Clock, Limits};
use crate::storage::backend::FaultSwitch;
use crate::storage::breaker::BreakerOptions;
use crate::storage::writer::WriterOptions;
use std::str::FromStr;
use std::time::Duration;

/// A named set of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Small memory footprint: L1 1,000 items / 100 MB.
    #[default]
    Development,
    /// L1 10,000 items / 500 MB.
    Production,
}

impl Profile {
    /// The profile's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Production => "production",
        }
    }
}

impl FromStr for Profile {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Profile> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Profile::Development),
            "production" | "prod" => Ok(Profile::Production),
            _ => Err(err(ErrorKind::Config, format!("unknown profile {s:?}; expected development or production"))),
        }
    }
}

/// Everything the engine reads at open.
#[derive(Debug, Clone)]
pub struct Config {
    /// The profile the defaults came from.
    pub profile: Profile,
    /// Validation limits.
    pub limits: Limits,
    /// Create the seven seed indexes in a fresh database.
    pub seed_indexes: bool,
    /// Group-commit settings.
    pub writer: WriterOptions,
    /// The clock (system by default; manual in tests).
    pub clock: Clock,
    /// L1 cache bound in items.
    pub l1_max_items: usize,
    /// L1 cache bound in bytes.
    pub l1_max_bytes: usize,
    /// Circuit-breaker settings.
    pub breaker: BreakerOptions,
    /// Fault injection for tests (never set in production).
    pub faults: Option<FaultSwitch>,
    /// How often expired contexts (and other TTL'd data) are swept.
    pub sweep_interval: Duration,
    /// Async worker threads of the engine's background runtime.
    pub background_workers: usize,
    /// Statement monitoring and alert thresholds.
    pub monitor: crate::monitor::MonitorOptions,
    /// Change-feed retention and queue sizes.
    pub feed: crate::feed::FeedOptions,
    /// Verify every page checksum of the data file at open (reads the whole file once), so
    /// bytes altered outside cidb are a `Corrupted` error, never a wrong answer.
    pub verify_on_open: bool,
    /// Durable commits append the changed pages to a commit log beside the data file (one
    /// sequential write and one fdatasync) instead of syncing the data file's scattered pages;
    /// see `storage::wal`. Off (the default): every commit syncs the data file itself. Off by
    /// default because at 1M customers it measured slower, not faster (stop 18's note).
    pub commit_log: bool,
    /// Small groups of tenant writes (upserts, deletes, appends, context updates) are made
    /// durable by appending their description to a redo log beside the data file (one small
    /// sequential write and one fdatasync) and committing the data file without a sync; a
    /// durable commit every 2 s or 32 MB of log (and at close) restarts the log, and open
    /// replays what the data file lacks. See `storage::redo`. On by default; off, every
    /// commit syncs the data file (or goes through `commit_log`).
    pub redo_log: bool,
    /// Memory for the data file's page cache in bytes: redb's cache of B-tree pages read
    /// from the file, and its buffer of pages written but not yet flushed. It fills as pages
    /// are read, up to this bound (like SQLite's `cache_size` or DuckDB's `memory_limit`).
    /// Reads of pages outside it go to the file (`pread`, a kernel copy, or a disk read when
    /// the OS has dropped the page). Development 1 GiB (redb's default), production 4 GiB;
    /// never more than a quarter of the machine's memory unless set explicitly.
    pub page_cache_bytes: usize,
    /// Everything else about the tiered cache.
    pub cache: crate::cache::CacheOptions,
}

impl Config {
    /// The defaults of a profile.
    pub fn profile(p: Profile) -> Config {
        let (items, bytes, pages) = match p {
            Profile::Development => (1_000, 100 << 20, 1 << 30),
            Profile::Production => (10_000, 500 << 20, 4 << 30),
        };
        Config {
            profile: p,
            limits: Limits::default(),
            seed_indexes: true,
            writer: WriterOptions { max_batch: 1024, window: Duration::from_millis(0) },
            clock: Clock::system(),
            l1_max_items: items,
            l1_max_bytes: bytes,
            breaker: BreakerOptions::default(),
            faults: None,
            sweep_interval: Duration::from_secs(30),
            background_workers: 1,
            monitor: Default::default(),
            feed: Default::default(),
            verify_on_open: true,
            commit_log: false,
            redo_log: true,
            page_cache_bytes: pages,
            cache: crate::cache::CacheOptions::default(),
        }
    }

    /// Replaces the clock (tests control time with [`Clock::manual`]).
    pub fn with_clock(mut self, clock: Clock) -> Config {
        self.clock = clock;
        self
    }

    /// Turns creation of the seed indexes on or off.
    pub fn with_seed_indexes(mut self, on: bool) -> Config {
        self.seed_indexes = on;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::profile(Profile::Development)
    }
}
