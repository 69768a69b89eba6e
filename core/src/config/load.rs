//! Where configuration comes from: a profile's defaults, sizes derived from the machine
//! (CPU count, memory), an optional TOML file, then `CIDB_*` environment variables, each
//! later source overriding the earlier. Every effective value remembers its source so
//! `cidb config` can print both. Unknown keys in a file and malformed values anywhere are
//! `Config` errors naming the key and the source.

use super::{Config, Profile};
use crate::error::{err, ErrorKind, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// One effective setting and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The key (also the TOML key; the variable is `CIDB_` + upper case).
    pub key: &'static str,
    /// The effective value, as text.
    pub value: String,
    /// `profile:<name>`, `machine`, `file:<path>` or `env:CIDB_<KEY>`.
    pub source: String,
}

/// Every key, in print order.
pub const KEYS: [&str; 32] = [
    "profile",
    "l1_max_items",
    "l1_max_bytes",
    "max_content_bytes",
    "seed_indexes",
    "group_commit_max_batch",
    "group_commit_window_ms",
    "breaker_threshold",
    "breaker_window_ms",
    "breaker_cooldown_ms",
    "sweep_interval_ms",
    "background_workers",
    "feed_retention_ms",
    "feed_queue_capacity",
    "verify_on_open",
    "commit_log",
    "redo_log",
    "page_cache_bytes",
    "monitor_enabled",
    "monitor_max_fingerprints",
    "monitor_slow_log_size",
    "monitor_persist",
    "monitor_redact_examples",
    "alert_slow_query_ms",
    "alert_table_scan_ratio",
    "alert_query_memory_bytes",
    "alert_error_rate",
    "alert_window_ms",
    "alert_min_window_calls",
    "result_cache",
    "result_cache_min_cost",
    "result_cache_min_exec_ms",
];

fn bad(key: &str, source: &str, value: &str, want: &str) -> crate::Error {
    err(ErrorKind::Config, format!("{key} = {value:?} from {source} is not {want}"))
}

fn parse_u64(key: &str, source: &str, v: &str) -> Result<u64> {
    v.trim().replace('_', "").parse::<u64>().map_err(|_| bad(key, source, v, "a non-negative integer"))
}

fn parse_f64(key: &str, source: &str, v: &str) -> Result<f64> {
    match v.trim().replace('_', "").parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(bad(key, source, v, "a non-negative number")),
    }
}

fn parse_ratio(key: &str, source: &str, v: &str) -> Result<f64> {
    match parse_f64(key, source, v)? {
        x if x <= 1.0 => Ok(x),
        _ => Err(bad(key, source, v, "a ratio between 0 and 1")),
    }
}

/// Milliseconds, fractions allowed (`0.5` = 500 µs).
fn parse_ms(key: &str, source: &str, v: &str) -> Result<Duration> {
    Ok(Duration::from_secs_f64(parse_f64(key, source, v)? / 1e3))
}

fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms.fract() == 0.0 { format!("{}", ms as u64) } else { format!("{ms}") }
}

fn parse_bool(key: &str, source: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad(key, source, v, "a boolean")),
    }
}

/// Applies one key to `cfg`.
fn apply(cfg: &mut Config, key: &str, v: &str, source: &str) -> Result<()> {
    let ms = |x: u64| Duration::from_millis(x);
    match key {
        "profile" => {} // chosen before anything else; see `load`
        "l1_max_items" => cfg.l1_max_items = parse_u64(key, source, v)? as usize,
        "l1_max_bytes" => cfg.l1_max_bytes = parse_u64(key, source, v)? as usize,
        "max_content_bytes" => cfg.limits.max_content_bytes = parse_u64(key, source, v)? as usize,
        "seed_indexes" => cfg.seed_indexes = parse_bool(key, source, v)?,
        "group_commit_max_batch" => cfg.writer.max_batch = (parse_u64(key, source, v)? as usize).max(1),
        "group_commit_window_ms" => {
            let w = parse_u64(key, source, v)?;
            if w > 50 {
                return Err(bad(key, source, v, "at most 50 (ms)"));
            }
            cfg.writer.window = ms(w)
        }
        "breaker_threshold" => cfg.breaker.threshold = (parse_u64(key, source, v)? as u32).max(1),
        "breaker_window_ms" => cfg.breaker.window = ms(parse_u64(key, source, v)?),
        "breaker_cooldown_ms" => cfg.breaker.cooldown = ms(parse_u64(key, source, v)?),
        "sweep_interval_ms" => cfg.sweep_interval = ms(parse_u64(key, source, v)?.max(10)),
        "background_workers" => cfg.background_workers = (parse_u64(key, source, v)? as usize).max(1),
        "feed_retention_ms" => cfg.feed.retention = ms(parse_u64(key, source, v)?),
        "feed_queue_capacity" => cfg.feed.queue_capacity = (parse_u64(key, source, v)? as usize).max(1),
        "verify_on_open" => cfg.verify_on_open = parse_bool(key, source, v)?,
        "commit_log" => cfg.commit_log = parse_bool(key, source, v)?,
        "redo_log" => cfg.redo_log = parse_bool(key, source, v)?,
        "page_cache_bytes" => {
            let b = parse_u64(key, source, v)?;
            if b < 1 << 20 {
                return Err(bad(key, source, v, "at least 1048576 (1 MiB)"));
            }
            cfg.page_cache_bytes = usize::try_from(b).unwrap_or(usize::MAX)
        }
        "monitor_enabled" => cfg.monitor.enabled = parse_bool(key, source, v)?,
        "monitor_max_fingerprints" => cfg.monitor.max_fingerprints = (parse_u64(key, source, v)? as usize).max(1),
        "monitor_slow_log_size" => cfg.monitor.slow_log_size = (parse_u64(key, source, v)? as usize).max(1),
        "monitor_persist" => cfg.monitor.persist = parse_bool(key, source, v)?,
        "monitor_redact_examples" => cfg.monitor.redact_examples = parse_bool(key, source, v)?,
        "alert_slow_query_ms" => cfg.monitor.alerts.slow_query = parse_ms(key, source, v)?,
        "alert_table_scan_ratio" => cfg.monitor.alerts.table_scan_ratio = parse_ratio(key, source, v)?,
        "alert_query_memory_bytes" => cfg.monitor.alerts.query_memory_bytes = parse_u64(key, source, v)?,
        "alert_error_rate" => cfg.monitor.alerts.error_rate = parse_ratio(key, source, v)?,
        "alert_window_ms" => cfg.monitor.alerts.window = ms(parse_u64(key, source, v)?.max(1)),
        "alert_min_window_calls" => cfg.monitor.alerts.min_window_calls = parse_u64(key, source, v)?,
        "result_cache" => cfg.cache.result_cache = parse_bool(key, source, v)?,
        "result_cache_min_cost" => cfg.cache.result_min_cost = parse_f64(key, source, v)?,
        "result_cache_min_exec_ms" => cfg.cache.result_min_exec = parse_ms(key, source, v)?,
        _ => return Err(err(ErrorKind::Config, format!("unknown configuration key {key:?} in {source}"))),
    }
    Ok(())
}

/// The effective value of `key` in `cfg`, as text.
fn value_of(cfg: &Config, key: &str) -> String {
    match key {
        "profile" => cfg.profile.as_str().to_string(),
        "l1_max_items" => cfg.l1_max_items.to_string(),
        "l1_max_bytes" => cfg.l1_max_bytes.to_string(),
        "max_content_bytes" => cfg.limits.max_content_bytes.to_string(),
        "seed_indexes" => cfg.seed_indexes.to_string(),
        "group_commit_max_batch" => cfg.writer.max_batch.to_string(),
        "group_commit_window_ms" => cfg.writer.window.as_millis().to_string(),
        "breaker_threshold" => cfg.breaker.threshold.to_string(),
        "breaker_window_ms" => cfg.breaker.window.as_millis().to_string(),
        "breaker_cooldown_ms" => cfg.breaker.cooldown.as_millis().to_string(),
        "sweep_interval_ms" => cfg.sweep_interval.as_millis().to_string(),
        "background_workers" => cfg.background_workers.to_string(),
        "feed_retention_ms" => cfg.feed.retention.as_millis().to_string(),
        "feed_queue_capacity" => cfg.feed.queue_capacity.to_string(),
        "verify_on_open" => cfg.verify_on_open.to_string(),
        "commit_log" => cfg.commit_log.to_string(),
        "redo_log" => cfg.redo_log.to_string(),
        "page_cache_bytes" => cfg.page_cache_bytes.to_string(),
        "monitor_enabled" => cfg.monitor.enabled.to_string(),
        "monitor_max_fingerprints" => cfg.monitor.max_fingerprints.to_string(),
        "monitor_slow_log_size" => cfg.monitor.slow_log_size.to_string(),
        "monitor_persist" => cfg.monitor.persist.to_string(),
        "monitor_redact_examples" => cfg.monitor.redact_examples.to_string(),
        "alert_slow_query_ms" => fmt_ms(cfg.monitor.alerts.slow_query),
        "alert_table_scan_ratio" => cfg.monitor.alerts.table_scan_ratio.to_string(),
        "alert_query_memory_bytes" => cfg.monitor.alerts.query_memory_bytes.to_string(),
        "alert_error_rate" => cfg.monitor.alerts.error_rate.to_string(),
        "alert_window_ms" => cfg.monitor.alerts.window.as_millis().to_string(),
        "alert_min_window_calls" => cfg.monitor.alerts.min_window_calls.to_string(),
        "result_cache" => cfg.cache.result_cache.to_string(),
        "result_cache_min_cost" => cfg.cache.result_min_cost.to_string(),
        "result_cache_min_exec_ms" => fmt_ms(cfg.cache.result_min_exec),
        _ => String::new(),
    }
}

/// Total physical memory in bytes, when the OS tells.
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Builds the effective configuration from a profile name (None = development, or the
/// `profile` key of the file / `CIDB_PROFILE`), an optional TOML file, and the given
/// environment (pass `std::env::vars()`), and reports each value's source.
pub fn load(
    profile: Option<&str>,
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<Setting>)> {
    let env: BTreeMap<String, String> = env.into_iter().filter(|(k, _)| k.starts_with("CIDB_")).collect();
    let file_table: BTreeMap<String, String> = match file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| crate::Error::with_source(ErrorKind::Config, format!("cannot read {}", p.display()), e))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| crate::Error::with_source(ErrorKind::Config, format!("{} is not valid TOML", p.display()), e))?;
            table
                .into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect()
        }
        None => BTreeMap::new(),
    };
    let file_src = file.map(|p| format!("file:{}", p.display())).unwrap_or_default();
    let (profile_name, profile_src) = match (env.get("CIDB_PROFILE"), profile, file_table.get("profile")) {
        (Some(p), _, _) => (p.clone(), "env:CIDB_PROFILE".to_string()),
        (None, Some(p), _) => (p.to_string(), "argument".to_string()),
        (None, None, Some(p)) => (p.clone(), file_src.clone()),
        (None, None, None) => ("development".to_string(), "default".to_string()),
    };
    let profile: Profile = profile_name.parse()?;
    let mut cfg = Config::profile(profile);
    let mut source: BTreeMap<&str, String> = KEYS.iter().map(|k| (*k, format!("profile:{}", profile.as_str()))).collect();
    source.insert("profile", profile_src);

    // Machine-derived sizes: never more L1 than 1/16 of memory, nor a page cache over 1/4
    // (both by default; a file or variable may set more); workers from CPU count.
    if let Some(mem) = total_memory() {
        let cap = (mem / 16) as usize;
        if cfg.l1_max_bytes > cap {
            cfg.l1_max_bytes = cap;
            source.insert("l1_max_bytes", "machine".into());
        }
        let cap = (mem / 4) as usize;
        if cfg.page_cache_bytes > cap {
            cfg.page_cache_bytes = cap;
            source.insert("page_cache_bytes", "machine".into());
        }
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    cfg.background_workers = (cpus / 4).clamp(1, 4);
    source.insert("background_workers", "machine".into());

    for (k, v) in &file_table {
        apply(&mut cfg, k, v, &file_src)?;
        if let Some(key) = KEYS.iter().find(|x| **x == k.as_str()) {
            if *key != "profile" {
                source.insert(key, file_src.clone());
            }
        }
    }
    for key in KEYS.iter().filter(|k| **k != "profile") {
        let var = format!("CIDB_{}", key.to_ascii_uppercase());
        if let Some(v) = env.get(&var) {
            apply(&mut cfg, key, v, &format!("env:{var}"))?;
            source.insert(key, format!("env:{var}"));
        }
    }
    let settings = KEYS
        .iter()
        .map(|k| Setting { key: k, value: value_of(&cfg, k), source: source.get(k).cloned().unwrap_or_default() })
        .collect();
    Ok((cfg, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn src<'a>(s: &'a [Setting], key: &str) -> (&'a str, &'a str) {
        let x = s.iter().find(|x| x.key == key).unwrap();
        (x.value.as_str(), x.source.as_str())
    }

    #[test]
    fn layers_override_in_order_and_report_sources() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cidb.toml");
        std::fs::write(&f, "profile = \"production\"\nl1_max_items = 123\nsweep_interval_ms = 500\n").unwrap();
        let (cfg, s) = load(None, Some(&f), env(&[("CIDB_SWEEP_INTERVAL_MS", "250"), ("HOME", "/x")])).unwrap();
        assert_eq!(cfg.profile, Profile::Production);
        assert_eq!(cfg.l1_max_items, 123);
        assert_eq!(cfg.sweep_interval, Duration::from_millis(250));
        assert_eq!(src(&s, "l1_max_items").1, format!("file:{}", f.display()));
        assert_eq!(src(&s, "sweep_interval_ms"), ("250", "env:CIDB_SWEEP_INTERVAL_MS"));
        assert_eq!(src(&s, "breaker_threshold"), ("5", "profile:production"));
        assert_eq!(src(&s, "background_workers").1, "machine");
        assert_eq!(s.len(), KEYS.len());
    }

    #[test]
    fn monitor_alert_and_result_cache_keys() {
        let (d, s) = load(None, None, env(&[])).unwrap();
        assert_eq!(src(&s, "alert_slow_query_ms").0, "100");
        assert_eq!(src(&s, "alert_table_scan_ratio").0, "0.8");
        assert_eq!(src(&s, "alert_query_memory_bytes").0, (100u64 << 20).to_string());
        assert_eq!(src(&s, "alert_error_rate").0, "0.01");
        assert_eq!(src(&s, "monitor_max_fingerprints").0, "5000");
        assert!(d.monitor.enabled && d.cache.result_cache);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cidb.toml");
        std::fs::write(
            &f,
            "alert_slow_query_ms = 0.5\nalert_table_scan_ratio = 0.25\nalert_query_memory_bytes = 1024\nalert_error_rate = 0.5\n\
             alert_window_ms = 1000\nmonitor_enabled = false\nmonitor_max_fingerprints = 10\nresult_cache = false\nresult_cache_min_cost = 12.5\n",
        )
        .unwrap();
        let (c, s) = load(None, Some(&f), env(&[("CIDB_ALERT_MIN_WINDOW_CALLS", "3")])).unwrap();
        let a = c.monitor.alerts;
        assert_eq!(a.slow_query, Duration::from_micros(500));
        assert_eq!((a.table_scan_ratio, a.query_memory_bytes, a.error_rate), (0.25, 1024, 0.5));
        assert_eq!((a.window, a.min_window_calls), (Duration::from_secs(1), 3));
        assert_eq!((c.monitor.enabled, c.monitor.max_fingerprints), (false, 10));
        assert_eq!((c.cache.result_cache, c.cache.result_min_cost), (false, 12.5));
        assert_eq!(src(&s, "alert_slow_query_ms").0, "0.5");
    }

    #[test]
    fn profile_defaults_match_the_design() {
        let (dev, _) = load(Some("development"), None, env(&[])).unwrap();
        let (prod, _) = load(Some("production"), None, env(&[])).unwrap();
        assert_eq!((dev.l1_max_items, prod.l1_max_items), (1_000, 10_000));
        assert!(dev.l1_max_bytes <= 100 << 20 && prod.l1_max_bytes <= 500 << 20);
        // The page cache: 1 GiB and 4 GiB, or a quarter of memory where that is less.
        let quarter = total_memory().map_or(usize::MAX, |m| (m / 4) as usize);
        assert_eq!(dev.page_cache_bytes, (1usize << 30).min(quarter));
        assert_eq!(prod.page_cache_bytes, (4usize << 30).min(quarter));
        let (set, s) = load(Some("production"), None, env(&[("CIDB_PAGE_CACHE_BYTES", "8_589_934_592")])).unwrap();
        assert_eq!(set.page_cache_bytes, 8 << 30, "an explicit value is kept, even above the machine cap");
        assert_eq!(src(&s, "page_cache_bytes"), ("8589934592", "env:CIDB_PAGE_CACHE_BYTES"));
    }

    #[test]
    fn bad_values_name_key_and_source() {
        let e = load(None, None, env(&[("CIDB_L1_MAX_ITEMS", "lots")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("l1_max_items") && e.message().contains("env:CIDB_L1_MAX_ITEMS"), "{e}");
        assert_eq!(load(Some("staging"), None, env(&[])).unwrap_err().kind(), ErrorKind::Config);
        assert!(load(None, None, env(&[("CIDB_GROUP_COMMIT_WINDOW_MS", "51")])).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "colour = 1\n").unwrap();
        assert!(load(None, Some(&f), env(&[])).unwrap_err().message().contains("colour"));
        assert!(load(None, None, env(&[("CIDB_ALERT_ERROR_RATE", "1.5")])).unwrap_err().message().contains("alert_error_rate"));
        assert!(load(None, None, env(&[("CIDB_ALERT_SLOW_QUERY_MS", "-1")])).is_err());
        let e = load(None, None, env(&[("CIDB_PAGE_CACHE_BYTES", "4096")])).unwrap_err();
        assert!(e.message().contains("page_cache_bytes") && e.message().contains("1 MiB"), "{e}");
        std::fs::write(&f, "not toml [").unwrap();
        assert_eq!(load(None, Some(&f), env(&[])).unwrap_err().kind(), ErrorKind::Config);
    }
}
