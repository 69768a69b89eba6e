//! Bulk import with malformed rows of every class (bad numbers, missing required fields,
//! invalid UTF-8, out-of-range scores and timestamps, bad JSON, wrong tenant, unknown
//! columns): valid rows land exactly as given, each bad row is reported with its line and
//! a reason naming the problem, and no bad row is written, in CSV, JSONL and records.

mod common;
use cidb::{ErrorKind, ImportOptions, ImportReport, Role, Table};
use common::*;
use serde_json::json;

fn lines_and_kinds(r: &ImportReport) -> Vec<(u64, ErrorKind)> {
    r.rejects.iter().map(|j| (j.line, j.kind)).collect()
}

fn reason(r: &ImportReport, line: u64) -> &str {
    &r.rejects.iter().find(|j| j.line == line).unwrap_or_else(|| panic!("no reject at line {line}: {r:?}")).reason
}

#[test]
fn csv_customers_good_rows_land_bad_rows_are_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut csv = Vec::new();
    csv.extend_from_slice(b"id,email,name,department,status,created_at,updated_at,attributes\n"); // 1
    csv.extend_from_slice(b"c1,a@x.test,Ann,sales,active,1700000000000,1700000000001,\"{\"\"tier\"\":\"\"gold\"\"}\"\n"); // 2
    csv.extend_from_slice(b"c2,,,support,trial,2023-11-14T22:13:20Z,,\n"); // 3
    csv.extend_from_slice(b",b@x.test,Bob,sales,active,1700000000000,,\n"); // 4 empty id
    csv.extend_from_slice(b"c4,,,sales,active,yesterday,,\n"); // 5 bad timestamp
    csv.extend_from_slice(b"c5,,,sales,active,1700000000000,,\"[1,2]\"\n"); // 6 attributes not an object
    csv.extend_from_slice(b"c6,,,sales,active,1700000000000,,{not json\n"); // 7 attributes not JSON
    csv.extend_from_slice(b"c7,,\"two\nlines\",hr,active,1700000000000,,\n"); // 8-9 quoted newline
    csv.extend_from_slice(b"c8,,N\xff\xfe,hr,active,1700000000000,,\n"); // 10 invalid UTF-8
    csv.extend_from_slice(b"c9,,,hr,active\n"); // 11 too few fields
    csv.extend_from_slice(b"c10,,,hr,active,-5,,\n"); // 12 timestamp out of range
    csv.extend_from_slice(b"c11,,,hr,active,1700000000000,1700000000000.0,\n"); // 13 bad integer text
    csv.extend_from_slice(b"c12,,,hr,active,1700000000000,,{}\n"); // 14
    let r = t.import_csv(Table::Customers, csv.as_slice(), &ImportOptions::default()).unwrap();

    assert_eq!((r.imported, r.rejected, r.batches), (4, 8, 1), "{r:#?}");
    assert_eq!(
        lines_and_kinds(&r),
        vec![
            (4, ErrorKind::InvalidId),
            (5, ErrorKind::InvalidTimestamp),
            (6, ErrorKind::InvalidAttributes),
            (7, ErrorKind::InvalidAttributes),
            (10, ErrorKind::InvalidInput),
            (11, ErrorKind::InvalidInput),
            (12, ErrorKind::InvalidTimestamp),
            (13, ErrorKind::InvalidTimestamp),
        ]
    );
    assert!(reason(&r, 4).contains("customer id is empty"));
    assert!(reason(&r, 5).contains("created_at") && reason(&r, 5).contains("yesterday"));
    assert!(reason(&r, 6).contains("attributes must be a JSON object, got an array"));
    assert!(reason(&r, 7).contains("attributes is not valid JSON"));
    assert!(reason(&r, 10).contains("\"name\" is not valid UTF-8"), "{}", reason(&r, 10));
    assert!(reason(&r, 11).contains("5 fields; the header has 8"));
    assert!(reason(&r, 12).contains("created_at = -5 is out of range"));
    assert!(reason(&r, 13).contains("updated_at"));

    let c1 = t.get_customer("c1").unwrap().unwrap();
    assert_eq!(c1.email.as_deref(), Some("a@x.test"));
    assert_eq!(c1.name.as_deref(), Some("Ann"));
    assert_eq!((c1.created_at, c1.updated_at), (1_700_000_000_000, 1_700_000_000_001));
    assert_eq!(c1.attributes, json!({"tier": "gold"}));
    let c2 = t.get_customer("c2").unwrap().unwrap();
    assert_eq!((c2.email, c2.name), (None, None));
    assert_eq!((c2.created_at, c2.updated_at), (1_700_000_000_000, 1_700_000_000_000));
    assert_eq!(c2.attributes, json!({}));
    assert_eq!(t.get_customer("c7").unwrap().unwrap().name.as_deref(), Some("two\nlines"));
    assert!(t.get_customer("c12").unwrap().is_some());
    for bad in ["c4", "c5", "c6", "c8", "c9", "c10", "c11"] {
        assert!(t.get_customer(bad).unwrap().is_none(), "{bad} must not be written");
    }
    assert_eq!(t.count_customers().unwrap(), 4);
}

#[test]
fn csv_scores_bad_numbers_out_of_range_missing_fields_and_wrong_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let csv = "\
customer_id,score_type,score,confidence,created_at,model,tenant_id
c1,churn,0.25,0.9,1700000000000,m1,acme
c1,churn,abc,0.9,1700000000001,,
c1,churn,1.5,0.9,1700000000002,,
c1,churn,-0.1,0.9,1700000000003,,
c1,churn,0.5,NaN,1700000000004,,
c1,churn,,0.9,1700000000005,,
c1,churn,0.5,0.9,,,
c1,churn,0.5,0.9,1700000000007,,globex
,churn,0.5,0.9,1700000000008,,
c1,churn,0.75,1,1700000000009,,
c2,upsell, 0.5 ,0.5,2023-11-14 22:13:20.5,,
";
    let r = t.import_csv(Table::Scores, csv.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!((r.imported, r.rejected), (3, 8), "{r:#?}");
    assert_eq!(
        lines_and_kinds(&r),
        vec![
            (3, ErrorKind::TypeMismatch),
            (4, ErrorKind::InvalidScore),
            (5, ErrorKind::InvalidScore),
            (6, ErrorKind::InvalidScore),
            (7, ErrorKind::InvalidInput),
            (8, ErrorKind::InvalidInput),
            (9, ErrorKind::InvalidInput),
            (10, ErrorKind::InvalidId),
        ]
    );
    assert!(reason(&r, 3).contains("score must be a number, got text \"abc\""));
    assert!(reason(&r, 4).contains("score is 1.5"));
    assert!(reason(&r, 6).contains("confidence is NaN"));
    assert!(reason(&r, 7).contains("missing required field \"score\""));
    assert!(reason(&r, 8).contains("missing required field \"created_at\""));
    assert!(reason(&r, 9).contains("\"globex\""));

    let hist = t.score_history("c1", "churn", 0, i64::MAX).unwrap();
    assert_eq!(hist.iter().map(|s| s.score).collect::<Vec<_>>(), vec![0.25, 0.75]);
    assert_eq!(hist[0].model.as_deref(), Some("m1"));
    assert_eq!(t.latest_score("c1", "churn").unwrap().unwrap().created_at, 1_700_000_000_009);
    let up = t.latest_score("c2", "upsell").unwrap().unwrap();
    assert_eq!((up.score, up.created_at), (0.5, 1_700_000_000_500));
    let s = db.stats().unwrap();
    assert_eq!((s.scores, s.latest_scores), (Some(3), Some(2)));
}

#[test]
fn header_problems_fail_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions::default();
    let e = t.import_csv(Table::Customers, "id,colour\nc1,red\n".as_bytes(), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownColumn);
    assert!(e.message().contains("\"colour\"") && e.message().contains("customers has id, tenant_id"), "{e}");
    let e = t.import_csv(Table::Scores, "customer_id,score_type,score,created_at\nc1,t,0.5,1\n".as_bytes(), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("no column \"confidence\""), "{e}");
    let e = t.import_csv(Table::Customers, "id,name,NAME\nc1,a,b\n".as_bytes(), &o).unwrap_err();
    assert!(e.message().contains("appears twice"), "{e}");
    let e = t.import_csv(Table::Customers, "".as_bytes(), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = t.import_csv(Table::LatestScores, "customer_id\n".as_bytes(), &o).unwrap_err();
    assert!(e.message().contains("latest_scores cannot be imported"), "{e}");
    assert_eq!(cidb::import::import_table("latest_scores").unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(cidb::import::import_table("orders").unwrap_err().kind(), ErrorKind::UnknownTable);
    assert_eq!(cidb::import::import_table("CUSTOMERS").unwrap(), Table::Customers);

    // With ignore_unknown_columns the column is skipped and noted.
    let o = ImportOptions { ignore_unknown_columns: true, ..Default::default() };
    let r = t.import_csv(Table::Customers, "\u{feff}id,colour\nc1,red\n".as_bytes(), &o).unwrap();
    assert_eq!((r.imported, r.rejected), (1, 0));
    assert_eq!(r.notes, vec!["unknown column \"colour\" is ignored".to_string()]);
    assert_eq!(db.stats().unwrap().customers, Some(1));
}

#[test]
fn jsonl_messages_every_malformed_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut s = Vec::new();
    let mut line = |b: &[u8]| {
        s.extend_from_slice(b);
        s.push(b'\n');
    };
    line(br#"{"id": 99, "customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1700000000000, "content": "hi", "metadata": {"channel": "chat"}}"#); // 1
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "assistant", "timestamp": "2023-11-14T22:13:20.001Z", "content": "hello", "metadata": "{\"x\": 1}", "tenant_id": "acme"}"#); // 2
    line(b""); // 3 blank: skipped, not a reject
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "robot", "timestamp": 1700000000002, "content": "?"}"#); // 4 bad role
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1700000000003}"#); // 5 no content
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1700000000004, "content": "x", "colour": "red"}"#); // 6 unknown key
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1.5, "content": "x"}"#); // 7 fractional ms
    line(b"{\"customer_id\": \"c1\", \"conversation_id\": \"k1\", \"role\": \"user\", \"timestamp\": 1700000000006, \"content\": \"\xc3\x28\"}"); // 8 bad UTF-8
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "#); // 9 truncated JSON
    line(br#"[1, 2, 3]"#); // 10 not an object
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1700000000009, "content": "x", "metadata": [1]}"#); // 11
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 1700000000010, "content": "x", "tenant_id": "globex"}"#); // 12
    line(br#"{"customer_id": 7, "conversation_id": "k1", "role": "tool", "timestamp": 1700000000011, "content": "", "metadata": null}"#); // 13 good
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": true, "content": "x"}"#); // 14
    line(br#"{"customer_id": "c1", "conversation_id": "k1", "role": "user", "timestamp": 253402300800000, "content": "x"}"#); // 15
    let r = t.import_jsonl(Table::Messages, s.as_slice(), &ImportOptions::default()).unwrap();
    assert_eq!((r.imported, r.rejected), (3, 11), "{r:#?}");
    assert_eq!(
        lines_and_kinds(&r),
        vec![
            (4, ErrorKind::InvalidRole),
            (5, ErrorKind::InvalidInput),
            (6, ErrorKind::UnknownColumn),
            (7, ErrorKind::InvalidTimestamp),
            (8, ErrorKind::InvalidInput),
            (9, ErrorKind::InvalidInput),
            (10, ErrorKind::InvalidInput),
            (11, ErrorKind::InvalidAttributes),
            (12, ErrorKind::InvalidInput),
            (14, ErrorKind::InvalidTimestamp),
            (15, ErrorKind::InvalidTimestamp),
        ]
    );
    assert!(reason(&r, 5).contains("missing required field \"content\""));
    assert!(reason(&r, 6).contains("unknown column \"colour\""));
    assert!(reason(&r, 8).contains("not valid UTF-8"));
    assert!(reason(&r, 9).starts_with("invalid JSON"));
    assert!(reason(&r, 10).contains("expected a JSON object, got an array"));
    assert!(reason(&r, 14).contains("boolean true"));
    assert_eq!(r.notes, vec!["column \"id\" is ignored: the engine assigns message ids".to_string()]);

    let got = t.messages_for_conversation("k1").unwrap();
    let summary: Vec<_> = got.iter().map(|m| (m.customer_id.as_str(), m.role, m.timestamp, m.content.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            ("c1", Role::User, 1_700_000_000_000, "hi"),
            ("c1", Role::Assistant, 1_700_000_000_001, "hello"),
            ("7", Role::Tool, 1_700_000_000_011, ""),
        ]
    );
    assert_ne!(got[0].id, 99, "ids are assigned by the engine");
    assert_eq!(got[0].metadata, json!({"channel": "chat"}));
    assert_eq!(got[1].metadata, json!({"x": 1}));
    assert_eq!(db.stats().unwrap().messages, Some(3));
}

#[test]
fn records_and_fallible_records_report_positions() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
    let rows = vec![
        obj(json!({"id": "r1", "department": "sales", "created_at": 1_700_000_000_000i64, "attributes": {"a": 1}})),
        obj(json!({"id": "r2", "email": 5.5})),
        obj(json!({"email": "x@y"})),
        obj(json!({"id": 42, "status": "active"})),
    ];
    let r = t.import_records(Table::Customers, rows, &ImportOptions::default()).unwrap();
    assert_eq!((r.imported, r.rejected), (2, 2));
    assert_eq!(lines_and_kinds(&r), vec![(2, ErrorKind::TypeMismatch), (3, ErrorKind::InvalidInput)]);
    assert!(reason(&r, 2).contains("email must be text, got number 5.5"));
    assert!(reason(&r, 3).contains("missing required field \"id\""));
    assert_eq!(t.get_customer("r1").unwrap().unwrap().attributes, json!({"a": 1}));
    assert_eq!(t.get_customer("42").unwrap().unwrap().status, "active");

    let items = vec![
        Ok(obj(json!({"customer_id": "r1", "score_type": "t", "score": 0.5, "confidence": 0.5, "created_at": 5}))),
        Err(cidb::Error::new(ErrorKind::TypeMismatch, "score: datetime.date is not supported")),
        Ok(obj(json!({"customer_id": "r1", "score_type": "t", "score": 2, "confidence": 0.5, "created_at": 6}))),
    ];
    let r = t.import_record_results(Table::Scores, items, &ImportOptions::default()).unwrap();
    assert_eq!((r.imported, r.rejected), (1, 2));
    assert_eq!(lines_and_kinds(&r), vec![(2, ErrorKind::TypeMismatch), (3, ErrorKind::InvalidScore)]);
    assert_eq!(reason(&r, 2), "score: datetime.date is not supported");
    assert_eq!(t.score_history("r1", "t", 0, 100).unwrap().len(), 1);

    db.close().unwrap();
    let e = t.import_records(Table::Customers, vec![obj(json!({"id": "late"}))], &ImportOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
}

#[test]
fn reject_list_is_capped_but_every_reject_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut csv = String::from("id,created_at\n");
    for i in 0..50 {
        csv.push_str(&format!("c{i},{}\n", if i % 2 == 0 { "1" } else { "bad" }));
    }
    let o = ImportOptions { max_rejects_reported: 3, batch_size: 10, ..Default::default() };
    let r = t.import_csv(Table::Customers, csv.as_bytes(), &o).unwrap();
    assert_eq!((r.imported, r.rejected, r.batches), (25, 25, 3));
    assert_eq!(r.rejects.iter().map(|j| j.line).collect::<Vec<_>>(), vec![3, 5, 7]);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["rejects"][0]["kind"], "invalid_timestamp");
    assert!(v["elapsed_ms"].is_number());
}

#[test]
fn crlf_line_endings_tsv_and_import_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions::default();
    let r = t.import_csv(Table::Customers, "id,name\r\nc1,Ann\r\n,Bob\r\nc3,Cy\r\n".as_bytes(), &o).unwrap();
    assert_eq!((r.imported, r.rejected), (2, 1));
    assert_eq!(r.rejects[0].line, 3);
    assert_eq!(t.get_customer("c3").unwrap().unwrap().name.as_deref(), Some("Cy"));
    let r = t.import_jsonl(Table::Customers, "{\"id\":\"j1\"}\r\n\r\n{\"id\":\"\"}\r\n".as_bytes(), &o).unwrap();
    assert_eq!((r.imported, r.rejected, r.rejects[0].line), (1, 1, 3));

    let tsv = dir.path().join("people.tsv");
    std::fs::write(&tsv, "id\tname\tattributes\nt1\tTab, Person\t{\"a\": [1, 2]}\n").unwrap();
    let r = t.import_file(Table::Customers, &tsv, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (1, 0));
    let c = t.get_customer("t1").unwrap().unwrap();
    assert_eq!((c.name.as_deref(), c.attributes), (Some("Tab, Person"), json!({"a": [1, 2]})));
    let e = t.import_file(Table::Customers, &dir.path().join("x.parquet"), None, &o).unwrap_err();
    assert!(e.message().contains("cannot tell the format"), "{e}");
    let e = t.import_file(Table::Customers, &dir.path().join("missing.csv"), None, &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("cannot open"), "{e}");
}
