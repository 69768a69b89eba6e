//! Randomised import: proptest mixes good rows with every kind of defect (empty or too long
//! id, bad or out-of-range timestamp, bad or non-object JSON, invalid UTF-8, wrong tenant,
//! wrong shape), quoted multi-line fields, blank lines, LF or CRLF line endings, CSV or
//! JSONL and any batch size. The report must
//! name exactly the defective lines with the right kind, the good rows must all be stored
//! as written, the bad ones absent, and the batch count must be ceil(good / batch_size).

mod common;
use cidb::{ErrorKind, ImportOptions, Table};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Defect {
    None,
    EmptyId,
    LongId,
    BadTimestamp,
    OutOfRange,
    BadJson,
    NotObject,
    BadUtf8,
    WrongTenant,
    /// CSV: a field short; JSONL: an unknown key.
    Shape,
}

fn defect() -> impl Strategy<Value = Defect> {
    use Defect::*;
    prop_oneof![
        6 => Just(None),
        1 => Just(EmptyId),
        1 => Just(LongId),
        1 => Just(BadTimestamp),
        1 => Just(OutOfRange),
        1 => Just(BadJson),
        1 => Just(NotObject),
        1 => Just(BadUtf8),
        1 => Just(WrongTenant),
        1 => Just(Shape),
    ]
}

fn expected_kind(d: Defect, jsonl: bool) -> ErrorKind {
    use Defect::*;
    match d {
        EmptyId | LongId => ErrorKind::InvalidId,
        BadTimestamp | OutOfRange => ErrorKind::InvalidTimestamp,
        BadJson | NotObject => ErrorKind::InvalidAttributes,
        Shape if jsonl => ErrorKind::UnknownColumn,
        BadUtf8 | WrongTenant | Shape => ErrorKind::InvalidInput,
        None => unreachable!(),
    }
}

struct Row {
    id: String,
    name: Vec<u8>,
    created_at: String,
    attributes: String,
    tenant: &'static str,
}

fn row(i: usize, d: Defect, multiline: bool) -> Row {
    let mut r = Row {
        id: format!("c{i}"),
        name: if multiline { format!("n{i}\nsecond line").into_bytes() } else { format!("n{i}").into_bytes() },
        created_at: (T0 + i as i64).to_string(),
        attributes: format!("{{\"k\":{i}}}"),
        tenant: if i.is_multiple_of(3) { "acme" } else { "" },
    };
    match d {
        Defect::EmptyId => r.id.clear(),
        Defect::LongId => r.id = "x".repeat(257),
        Defect::BadTimestamp => r.created_at = "soon".into(),
        Defect::OutOfRange => r.created_at = "-1".into(),
        Defect::BadJson => r.attributes = "{\"k\":".into(),
        Defect::NotObject => r.attributes = "[1]".into(),
        Defect::BadUtf8 => r.name.extend_from_slice(b"\xff"),
        Defect::WrongTenant => r.tenant = "globex",
        Defect::None | Defect::Shape => {}
    }
    r
}

fn csv_field(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for &b in v {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn json_str(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for &b in v {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Renders the rows; returns the input and each row's first line.
fn render(rows: &[(Defect, bool, bool)], jsonl: bool, crlf: bool) -> (Vec<u8>, Vec<u64>) {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut line = 1u64;
    if !jsonl {
        out.extend_from_slice(b"id,name,created_at,attributes,tenant_id");
        out.extend_from_slice(eol);
        line += 1;
    }
    for (i, &(d, multiline, blank_before)) in rows.iter().enumerate() {
        let r = row(i, d, multiline);
        if blank_before {
            out.extend_from_slice(eol);
            line += 1;
        }
        lines.push(line);
        if jsonl {
            out.extend_from_slice(b"{\"id\":");
            json_str(&mut out, r.id.as_bytes());
            out.extend_from_slice(b",\"name\":");
            json_str(&mut out, &r.name);
            out.extend_from_slice(format!(",\"created_at\":{:?},\"attributes\":", r.created_at).as_bytes());
            json_str(&mut out, r.attributes.as_bytes());
            out.extend_from_slice(format!(",\"tenant_id\":{:?}", r.tenant).as_bytes());
            if d == Defect::Shape {
                out.extend_from_slice(b",\"colour\":\"red\"");
            }
            out.push(b'}');
            out.extend_from_slice(eol);
            line += 1;
        } else {
            csv_field(&mut out, r.id.as_bytes());
            out.push(b',');
            csv_field(&mut out, &r.name);
            out.extend_from_slice(format!(",{},", r.created_at).as_bytes());
            csv_field(&mut out, r.attributes.as_bytes());
            if d != Defect::Shape {
                out.extend_from_slice(format!(",{}", r.tenant).as_bytes());
            }
            out.extend_from_slice(eol);
            line += 1 + u64::from(multiline);
        }
    }
    (out, lines)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn exactly_the_defective_lines_are_rejected(
        rows in proptest::collection::vec((defect(), any::<bool>(), proptest::bool::weighted(0.1)), 0..120),
        batch_size in 1usize..40,
        jsonl in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let t = db.tenant("acme").unwrap();
        let (input, lines) = render(&rows, jsonl, crlf);
        let o = ImportOptions { batch_size, ..Default::default() };
        let r = if jsonl {
            t.import_jsonl(Table::Customers, input.as_slice(), &o).unwrap()
        } else {
            t.import_csv(Table::Customers, input.as_slice(), &o).unwrap()
        };
        let good = rows.iter().filter(|(d, _, _)| *d == Defect::None).count() as u64;
        let want: Vec<(u64, ErrorKind)> = rows
            .iter()
            .zip(&lines)
            .filter(|((d, _, _), _)| *d != Defect::None)
            .map(|((d, _, _), &l)| (l, expected_kind(*d, jsonl)))
            .collect();
        let got: Vec<(u64, ErrorKind)> = r.rejects.iter().map(|j| (j.line, j.kind)).collect();
        prop_assert_eq!(got, want, "{:#?}", r.rejects);
        prop_assert_eq!((r.imported, r.rejected), (good, rows.len() as u64 - good));
        prop_assert_eq!(r.batches, good.div_ceil(batch_size as u64));
        prop_assert_eq!(t.count_customers().unwrap(), good);
        for (i, &(d, multiline, _)) in rows.iter().enumerate() {
            let stored = t.get_customer(&format!("c{i}")).unwrap();
            if d == Defect::None {
                let c = stored.expect("good row stored");
                let name = if multiline { format!("n{i}\nsecond line") } else { format!("n{i}") };
                prop_assert_eq!(c.name, Some(name));
                prop_assert_eq!(c.created_at, T0 + i as i64);
                prop_assert_eq!(c.attributes, serde_json::json!({"k": i}));
            } else {
                prop_assert!(stored.is_none(), "row {} with {:?} must not be stored", i, d);
            }
        }
    }
}
