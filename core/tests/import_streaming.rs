//! Streaming import: a 200k-row CSV generated on the fly (never held in memory) lands in
//! batches of `batch_size` rows; progress is reported and can stop the import; a source
//! that fails mid-stream stops the import with committed batches intact and the batch being
//! filled not written.

mod common;
use cidb::{ErrorKind, ImportOptions, Table};
use common::*;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A CSV source that makes its rows as it is read: header then `rows` customers; after
/// `fail_after` rows (if any) every read fails.
struct GenCsv {
    next: usize,
    rows: usize,
    fail_after: Option<usize>,
    buf: Vec<u8>,
    at: usize,
}

impl GenCsv {
    fn new(rows: usize, fail_after: Option<usize>) -> GenCsv {
        let header = b"id,email,department,status,created_at,attributes\n".to_vec();
        GenCsv { next: 0, rows, fail_after, buf: header, at: 0 }
    }
}

impl Read for GenCsv {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.fail_after.is_some_and(|n| self.next >= n) {
                return Err(std::io::Error::other("disk went away"));
            }
            if self.next == self.rows {
                return Ok(0);
            }
            self.buf.clear();
            self.at = 0;
            // Whole rows only, so a failure falls between rows.
            while self.next < self.rows && self.buf.len() < 4096 && self.fail_after.is_none_or(|n| self.next < n) {
                let i = self.next;
                let line = format!(
                    "cust{i:07},u{i}@x.test,dept{},active,{},\"{{\"\"n\"\":{i}}}\"\n",
                    i % 8,
                    T0 + i as i64
                );
                self.buf.extend_from_slice(line.as_bytes());
                self.next += 1;
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn two_hundred_thousand_rows_stream_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let last_bytes = Arc::new(AtomicU64::new(0));
    let (c, b) = (calls.clone(), last_bytes.clone());
    let o = ImportOptions::default().with_progress(move |p| {
        c.fetch_add(1, Ordering::SeqCst);
        assert!(p.bytes_read >= b.swap(p.bytes_read, Ordering::SeqCst), "bytes_read goes forward");
        assert!(p.imported <= p.rows_read);
        true
    });
    let n = 200_000;
    let commits_before = db.stats().unwrap().commits;
    let r = t.import_csv(Table::Customers, GenCsv::new(n, None), &o).unwrap();
    assert_eq!((r.imported, r.rejected), (n as u64, 0));
    assert_eq!(r.batches, 20, "10,000 rows per transaction");
    assert_eq!(db.stats().unwrap().commits - commits_before, 20);
    assert_eq!(t.count_customers().unwrap(), n as u64);
    let c = t.get_customer("cust0199999").unwrap().unwrap();
    assert_eq!((c.department.as_str(), c.created_at), ("dept7", T0 + 199_999));
    assert_eq!(c.attributes, serde_json::json!({"n": 199_999}));
    // every 1,000 rows plus the final call
    assert_eq!(calls.load(Ordering::SeqCst), 201);
    assert!(last_bytes.load(Ordering::SeqCst) > 10_000_000);
}

#[test]
fn byte_cap_splits_batches_of_large_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut s = String::from("customer_id,conversation_id,role,timestamp,content\n");
    let big = "x".repeat(1000);
    for i in 0..100 {
        s.push_str(&format!("c1,k1,user,{},{big}\n", T0 + i));
    }
    let o = ImportOptions { batch_bytes: 10_000, ..Default::default() };
    let r = t.import_csv(Table::Messages, s.as_bytes(), &o).unwrap();
    assert_eq!(r.imported, 100);
    // ~1,030 bytes per row: a batch closes at its 10th row.
    assert_eq!(r.batches, 10);
}

#[test]
fn progress_callback_can_stop_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions::default().with_progress(|p| p.rows_read < 3_000);
    let r = t.import_csv(Table::Customers, GenCsv::new(50_000, None), &o).unwrap();
    assert!(r.stopped_early);
    assert_eq!((r.imported, r.rejected, r.batches), (3_000, 0, 1));
    assert_eq!(t.count_customers().unwrap(), 3_000);
}

#[test]
fn a_source_failing_mid_stream_keeps_committed_batches_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions { batch_size: 100, ..Default::default() };
    let e = t.import_csv(Table::Customers, GenCsv::new(1_000, Some(250)), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("disk went away"), "{e}");
    assert!(e.message().contains("200 rows in 2 batches were committed"), "{e}");
    assert_eq!(t.count_customers().unwrap(), 200);
    assert!(t.get_customer("cust0000199").unwrap().is_some());
    assert!(t.get_customer("cust0000200").unwrap().is_none());

    let e = t.import_jsonl(Table::Customers, GenCsv::new(10, Some(0)), &o).unwrap_err();
    assert!(e.message().contains("0 rows in 0 batches were committed"), "{e}");
}
