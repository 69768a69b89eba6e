//! Join planning uses one row estimate for the driving table whatever path reads it: with
//! a department given, the join of customers and latest scores drives from the department
//! index (a search of the department's entries), not from a walk of every entry of the
//! tenant index whose rougher default selectivity made it look cheaper. Results are the
//! same either way (the differential tests check results); this checks the plan.

use cidb::datagen::{generate, GenConfig};
use cidb::{Config, Engine, Value};

const NOW: i64 = 1_700_000_000_000;

#[test]
fn join_drives_from_the_index_the_statistics_favour() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Config::default().with_clock(cidb::Clock::manual(NOW))).unwrap();
    let cfg = GenConfig::new(3000, 9, NOW);
    let all: Vec<_> = generate(&cfg).collect();
    for t in 0..cfg.tenants {
        let name = cidb::datagen::tenant_name(t);
        let ten = engine.tenant(&name).unwrap();
        let mine: Vec<_> = all.iter().filter(|g| g.tenant == name).collect();
        ten.upsert_customers(&mine.iter().map(|g| g.customer.clone()).collect::<Vec<_>>()).unwrap();
        ten.add_scores(&mine.iter().flat_map(|g| g.scores.clone()).collect::<Vec<_>>()).unwrap();
    }
    engine.execute("ANALYZE").unwrap();
    let t = engine.tenant("tenant_0").unwrap();
    let sql = "SELECT c.id, c.email, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id \
               WHERE c.department = ? AND s.score_type = ? AND s.score > 0.7";
    let params = [Value::Text("legal".into()), Value::Text("churn_risk".into())];
    let plan = t.explain(sql, &params, true).unwrap();
    let first = &plan.steps()[0].detail;
    assert!(first.starts_with("SEARCH c USING INDEX idx_customers_department_status_created_at (department=?)"), "{}", plan.lines().join("\n"));
    // The department's entries only: examined is rows read from the index plus rows fetched.
    let legal = all.iter().filter(|g| g.tenant == "tenant_0" && g.customer.department == "legal").count() as u64;
    let got = t.query(sql, &params).unwrap();
    assert_eq!(got.stats.rows_examined, 2 * legal + legal, "index entries + fetches + one probe each: {:?}", got.stats);
    engine.close().unwrap();
}
