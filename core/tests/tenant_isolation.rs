//! Two tenants whose ids overlap never see or change each other's rows.

mod common;
use common::*;
use cidb::Role;

#[test]
fn overlapping_ids_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let a = db.tenant("a").unwrap();
    let b = db.tenant("a\u{1}").unwrap(); // a name that shares a's bytes as a prefix
    let ab = db.tenant("ab").unwrap();
    a.upsert_customer(&customer("c1", "sales", "active")).unwrap();
    b.upsert_customer(&customer("c1", "support", "trial")).unwrap();
    a.add_score(&score("c1", "churn", 0.1, T0)).unwrap();
    b.add_score(&score("c1", "churn", 0.9, T0)).unwrap();
    a.append_message(&msg("c1", "conv", Role::User, T0, "from a")).unwrap();
    b.append_message(&msg("c1", "conv", Role::User, T0, "from b")).unwrap();

    assert_eq!(a.get_customer("c1").unwrap().unwrap().department, "sales");
    assert_eq!(b.get_customer("c1").unwrap().unwrap().department, "support");
    assert!(ab.get_customer("c1").unwrap().is_none());
    assert_eq!(a.count_customers().unwrap(), 1);
    assert_eq!(ab.count_customers().unwrap(), 0);
    assert_eq!(a.latest_score("c1", "churn").unwrap().unwrap().score, 0.1);
    assert_eq!(b.latest_score("c1", "churn").unwrap().unwrap().score, 0.9);
    let am = a.messages_for_conversation("conv").unwrap();
    assert_eq!(am.len(), 1);
    assert_eq!(am[0].content, "from a");
    assert!(b.delete_customer("c1").unwrap());
    assert!(a.get_customer("c1").unwrap().is_some());
}
