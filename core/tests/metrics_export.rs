//! The combined export: JSON (serde) with engine, cache, breaker, monitor and index usage,
//! and Prometheus text that a strict parser accepts: every family declared once with HELP
//! and TYPE before its samples, sample names that belong to their family, label values
//! escaped, no series twice, numeric values.

mod common;
use cidb::{Config, Engine};
use common::{customer, score, T0};
use std::collections::{HashMap, HashSet};

/// Parses a label set `{a="x",b="y\"z"}`; returns (labels, rest of line).
fn labels(s: &str) -> (Vec<(String, String)>, &str) {
    let Some(mut rest) = s.strip_prefix('{') else { return (Vec::new(), s) };
    let mut out = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (out, r);
        }
        let eq = rest.find('=').expect("=");
        let name = &rest[..eq];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with(|c: char| c.is_ascii_digit()),
            "label name {name:?}"
        );
        rest = rest[eq + 1..].strip_prefix('"').expect("quoted label value");
        let mut value = String::new();
        let mut it = rest.char_indices();
        let end = loop {
            let (i, c) = it.next().expect("unterminated label value");
            match c {
                '\\' => value.push(match it.next().expect("escape").1 {
                    'n' => '\n',
                    '\\' => '\\',
                    '"' => '"',
                    other => panic!("bad escape \\{other}"),
                }),
                '"' => break i,
                '\n' => panic!("raw newline in a label value"),
                c => value.push(c),
            }
        };
        out.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else {
            assert!(rest.starts_with('}'), "closing brace");
        }
    }
}

/// Samples by (name, labels).
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// Checks the exposition format; returns the samples.
fn parse(text: &str) -> Samples {
    assert!(text.ends_with('\n'));
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = HashSet::new();
    let mut current: Option<String> = None;
    let mut closed: HashSet<String> = HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# HELP ") {
            let name = h.split(' ').next().unwrap().to_string();
            assert!(helped.insert(name.clone()), "HELP twice for {name}");
            continue;
        }
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let mut it = t.split(' ');
            let (name, kind) = (it.next().unwrap().to_string(), it.next().unwrap().to_string());
            assert!(["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind.as_str()), "{line}");
            assert!(helped.contains(&name), "HELP before TYPE: {name}");
            assert!(types.insert(name.clone(), kind).is_none(), "TYPE twice for {name}");
            if let Some(c) = current.replace(name) {
                closed.insert(c);
            }
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let end = line.find(['{', ' ']).unwrap();
        let name = &line[..end];
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{name}");
        let family = current.as_deref().expect("sample before any TYPE");
        let kind = &types[family];
        let ok = name == family || (kind == "summary" && (name == format!("{family}_sum") || name == format!("{family}_count")));
        assert!(ok, "sample {name} outside its family {family}");
        assert!(!closed.contains(family));
        let (ls, rest) = labels(&line[end..]);
        let value = rest.trim_start_matches(' ');
        let v = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse::<f64>().unwrap_or_else(|_| panic!("value {v:?} in {line}")),
        };
        if kind == "summary" && name == family {
            assert!(ls.iter().any(|(k, _)| k == "quantile"), "{line}");
        }
        if kind == "counter" {
            assert!(name.ends_with("_total") && v >= 0.0, "{line}");
        }
        assert!(samples.insert((name.to_string(), ls), v).is_none(), "series twice: {line}");
    }
    samples
}

fn get(s: &Samples, name: &str, ls: &[(&str, &str)]) -> Option<f64> {
    let key = (name.to_string(), ls.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>());
    s.get(&key).copied()
}

#[test]
fn prometheus_text_is_well_formed_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), Config::default()).unwrap();
    let t = e.tenant("acme").unwrap();
    t.upsert_customers(&[customer("a", "sales", "active"), customer("b", "hr", "trial")]).unwrap();
    t.add_score(&score("a", "churn", 0.95, T0)).unwrap();
    // a label that needs escaping: text the tokenizer rejects keeps its quote and backslash
    let tricky = "SELECT \"we\\ird FROM customers";
    assert!(t.query(tricky, &[]).is_err());
    for _ in 0..3 {
        t.query("SELECT customer_id FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 5", &[]).unwrap();
    }
    assert!(t.query("SELEC", &[]).is_err());
    t.get_customer("a").unwrap();
    let text = e.metrics_prometheus().unwrap();
    let s = parse(&text);
    let fp = cidb::monitor::fingerprint(tricky);
    let id = format!("{:016x}", fp.id);
    assert!(fp.text.contains('"') && fp.text.contains('\\'), "{}", fp.text);
    assert_eq!(get(&s, "cidb_statement_errors_total", &[("fingerprint", &id), ("query", &fp.text)]), Some(1.0));
    let q = cidb::monitor::fingerprint("SELECT customer_id FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 5");
    let qid = format!("{:016x}", q.id);
    assert_eq!(get(&s, "cidb_statement_calls_total", &[("fingerprint", &qid), ("query", &q.text)]), Some(3.0));
    assert_eq!(get(&s, "cidb_statement_latency_seconds_count", &[("fingerprint", &qid), ("query", &q.text)]), Some(3.0));
    assert_eq!(get(&s, "cidb_statement_errors_total", &[("fingerprint", &format!("{:016x}", cidb::monitor::fingerprint("SELEC").id)), ("query", "selec")]), Some(1.0));
    assert_eq!(get(&s, "cidb_rows", &[("table", "customers")]), Some(2.0));
    assert_eq!(get(&s, "cidb_breaker_state", &[("state", "closed")]), Some(1.0));
    assert_eq!(get(&s, "cidb_breaker_state", &[("state", "open")]), Some(0.0));
    assert!(get(&s, "cidb_cache_hits_total", &[("tier", "l1")]).is_some());
    assert!(get(&s, "cidb_commits_total", &[]).unwrap() >= 2.0);
    assert_eq!(
        get(&s, "cidb_index_uses_total", &[("index", "idx_customer_scores_high_score_partial"), ("table", "customer_scores")]),
        Some(3.0)
    );
    assert_eq!(get(&s, "cidb_alerts_total", &[]), Some(0.0));
    // the monitor-only text stays a valid document on its own
    parse(&e.monitor().prometheus());

    // JSON: one serde value with every part
    let m = serde_json::to_value(e.metrics().unwrap()).unwrap();
    assert_eq!(m["engine"]["customers"], 2);
    assert_eq!(m["engine"]["breaker"]["state"], "closed");
    assert!(m["cache"]["l1"]["hits"].is_u64());
    assert!(m["monitor"]["fingerprints"].as_array().unwrap().iter().any(|f| f["query"] == q.text && f["calls"] == 3));
    assert!(m["index_usage"].as_array().unwrap().iter().any(|u| u["name"] == "idx_customer_scores_high_score_partial" && u["uses"] == 3));
    e.close().unwrap();
}

#[test]
fn the_parser_rejects_malformed_text() {
    for bad in [
        "cidb_x 1\n",                                                   // no TYPE
        "# HELP a x\n# TYPE a counter\na 1\n",                          // counter without _total
        "# HELP a_total x\n# TYPE a_total counter\na_total{q=\"x} 1\n", // unterminated label
        "# HELP a x\n# TYPE a gauge\na 1\na 2\n",                       // series twice
        "# HELP a x\n# TYPE a gauge\na one\n",                          // not a number
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad:?} was accepted");
    }
    parse("# HELP a x\n# TYPE a gauge\na{l=\"q\\\"\\n\\\\\"} 1.5\n");
}
