//! The import pipeline shared by every format: collects validated records into batches,
//! hands full batches to a committer thread (so the next batch is parsed while the last one
//! commits; at most two batches are in memory), records rejects, reports progress and
//! builds the final report. Each batch is one call of the tenant's batch API, hence one
//! transaction through the group-commit writer: a batch lands whole or not at all.

use super::convert::{Fields, Record, RowBuilder};
use super::{ImportOptions, ImportProgress, ImportReport, Reject};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Customer, NewMessage, Score};
use crate::schema::Table;
use crate::tenant::Tenant;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Rows read between two progress callbacks.
const PROGRESS_EVERY: u64 = 1_000;

/// One batch of records of one table.
enum Batch {
    Customers(Vec<Customer>),
    Scores(Vec<Score>),
    Messages(Vec<NewMessage>),
}

impl Batch {
    fn new(table: Table, cap: usize) -> Batch {
        match table {
            Table::Scores => Batch::Scores(Vec::with_capacity(cap)),
            Table::Messages => Batch::Messages(Vec::with_capacity(cap)),
            _ => Batch::Customers(Vec::with_capacity(cap)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Batch::Customers(v) => v.len(),
            Batch::Scores(v) => v.len(),
            Batch::Messages(v) => v.len(),
        }
    }

    fn push(&mut self, r: Record) {
        match (self, r) {
            (Batch::Customers(v), Record::Customer(c)) => v.push(c),
            (Batch::Scores(v), Record::Score(s)) => v.push(s),
            (Batch::Messages(v), Record::Message(m)) => v.push(m),
            _ => debug_assert!(false, "record of another table"),
        }
    }

    fn commit(&self, t: &Tenant) -> Result<()> {
        match self {
            Batch::Customers(v) => t.upsert_customers(v),
            Batch::Scores(v) => t.add_scores(v),
            Batch::Messages(v) => t.append_messages(v).map(drop),
        }
    }
}

/// Counts the committer thread shares with the reading side.
#[derive(Default)]
struct Committed {
    rows: AtomicU64,
    batches: AtomicU64,
}

/// Runs batches through the tenant's batch API on its own thread.
struct Committer {
    tx: Option<SyncSender<(u64, Batch)>>,
    thread: Option<JoinHandle<Result<()>>>,
    done: Arc<Committed>,
}

impl Drop for Committer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl Committer {
    fn start(tenant: &Tenant) -> Committer {
        // Capacity 0: a send waits until the thread takes the batch, so one batch commits
        // while the next one fills: two batches in memory at most.
        let (tx, rx) = sync_channel::<(u64, Batch)>(0);
        let done = Arc::new(Committed::default());
        let (t, d) = (tenant.clone(), done.clone());
        let thread = std::thread::Builder::new().name("cidb-import".into()).spawn(move || {
            for (first_line, batch) in rx {
                batch.commit(&t).map_err(|e| {
                    let msg = format!(
                        "import stopped: the batch of {} rows starting at line {first_line} was not written ({}); \
                         {} rows in {} earlier batches were committed",
                        batch.len(),
                        e,
                        d.rows.load(Ordering::SeqCst),
                        d.batches.load(Ordering::SeqCst)
                    );
                    Error::new(e.kind(), msg)
                })?;
                d.rows.fetch_add(batch.len() as u64, Ordering::SeqCst);
                d.batches.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        });
        match thread {
            Ok(h) => Committer { tx: Some(tx), thread: Some(h), done },
            // No thread: commit on the caller's thread instead.
            Err(_) => Committer { tx: None, thread: None, done },
        }
    }

    /// Commits `batch` (on the thread, or here when there is none). `Err` once the thread
    /// has failed; [`Committer::finish`] then returns its error.
    fn send(&mut self, tenant: &Tenant, first_line: u64, batch: Batch) -> Result<(), ()> {
        match &self.tx {
            Some(tx) => tx.send((first_line, batch)).map_err(drop),
            None => {
                let n = batch.len() as u64;
                match batch.commit(tenant) {
                    Ok(()) => {
                        self.done.rows.fetch_add(n, Ordering::SeqCst);
                        self.done.batches.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                    Err(e) => {
                        self.thread = Some(std::thread::spawn(move || Err(e)));
                        Err(())
                    }
                }
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.tx.take();
        match self.thread.take() {
            Some(h) => h.join().unwrap_or_else(|_| Err(Error::new(ErrorKind::Internal, "the import thread panicked"))),
            None => Ok(()),
        }
    }
}

/// The state of one import.
pub(crate) struct Importer<'a> {
    tenant: &'a Tenant,
    table: Table,
    builder: RowBuilder,
    opts: &'a ImportOptions,
    report: ImportReport,
    batch: Batch,
    batch_bytes: usize,
    batch_first_line: u64,
    committer: Committer,
    started: Instant,
    rows_read: u64,
    bytes_read: u64,
    total_rows: Option<u64>,
    next_progress: u64,
    stopped: bool,
}

impl<'a> Importer<'a> {
    /// Starts an import of `table` rows into `tenant`.
    pub(crate) fn new(tenant: &'a Tenant, table: Table, opts: &'a ImportOptions) -> Result<Importer<'a>> {
        opts.check()?;
        let engine = tenant.engine();
        if engine.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        let builder = RowBuilder::new(table, tenant.name(), engine.config().clock.now(), engine.config().limits)?;
        Ok(Importer {
            tenant,
            table,
            builder,
            opts,
            report: ImportReport::default(),
            batch: Batch::new(table, opts.batch_size.min(65_536)),
            batch_bytes: 0,
            batch_first_line: 0,
            committer: Committer::start(tenant),
            started: Instant::now(),
            rows_read: 0,
            bytes_read: 0,
            total_rows: None,
            next_progress: PROGRESS_EVERY,
            stopped: false,
        })
    }

    /// The table being imported.
    pub(crate) fn table(&self) -> Table {
        self.table
    }

    /// The options in force.
    pub(crate) fn opts(&self) -> &ImportOptions {
        self.opts
    }

    /// Adds a note to the report (ignored columns and the like).
    pub(crate) fn note(&mut self, text: String) {
        if self.report.notes.len() < 100 && !self.report.notes.contains(&text) {
            self.report.notes.push(text);
        }
    }

    /// Sets the number of rows the source holds, when known (shown in progress).
    pub(crate) fn set_total_rows(&mut self, n: u64) {
        self.total_rows = Some(n);
    }

    /// False once the import must stop reading: the progress callback asked to stop, or
    /// the committer failed (the error comes from [`Importer::finish`]).
    pub(crate) fn running(&self) -> bool {
        !self.stopped
    }

    /// Converts, validates and queues one row, or records why it is rejected. `line` is
    /// the row's position for the report, `end_byte` how far the source has been read.
    pub(crate) fn row(&mut self, line: u64, end_byte: u64, size: usize, fields: &Fields<'_>) {
        match self.builder.build(fields) {
            Ok(rec) => self.accept(line, size, rec),
            Err(e) => self.reject(line, e),
        }
        self.advance(end_byte);
    }

    /// Records a rejected row (one that never reached [`Importer::row`]).
    pub(crate) fn reject_row(&mut self, line: u64, end_byte: u64, e: Error) {
        self.reject(line, e);
        self.advance(end_byte);
    }

    fn reject(&mut self, line: u64, e: Error) {
        self.report.rejected += 1;
        if self.report.rejects.len() < self.opts.max_rejects_reported {
            self.report.rejects.push(Reject { line, kind: e.kind(), reason: e.message().to_string() });
        }
    }

    fn accept(&mut self, line: u64, size: usize, rec: Record) {
        if self.batch.len() == 0 {
            self.batch_first_line = line;
        }
        self.batch.push(rec);
        self.batch_bytes += size;
        if self.batch.len() >= self.opts.batch_size || self.batch_bytes >= self.opts.batch_bytes {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.len() == 0 {
            return;
        }
        let cap = self.opts.batch_size.min(65_536);
        let batch = std::mem::replace(&mut self.batch, Batch::new(self.table, cap));
        self.batch_bytes = 0;
        if self.committer.send(self.tenant, self.batch_first_line, batch).is_err() {
            self.stopped = true;
        }
    }

    fn advance(&mut self, end_byte: u64) {
        self.rows_read += 1;
        self.bytes_read = self.bytes_read.max(end_byte);
        if self.rows_read >= self.next_progress {
            self.next_progress = self.rows_read + PROGRESS_EVERY;
            self.progress();
        }
    }

    fn progress(&mut self) {
        if !self.call_progress() {
            self.report.stopped_early = true;
            self.stopped = true;
        }
    }

    /// Calls the progress callback; false when it asks to stop.
    fn call_progress(&self) -> bool {
        let Some(f) = &self.opts.progress else { return true };
        f(&ImportProgress {
            rows_read: self.rows_read,
            bytes_read: self.bytes_read,
            imported: self.committer.done.rows.load(Ordering::SeqCst),
            rejected: self.report.rejected,
            total_rows: self.total_rows,
        })
    }

    /// Commits the last batch, waits for every commit and returns the report; a failed
    /// commit (storage) is returned as the error, saying what was committed before it.
    pub(crate) fn finish(mut self) -> Result<ImportReport> {
        self.flush();
        self.committer.finish()?;
        self.report.imported = self.committer.done.rows.load(Ordering::SeqCst);
        self.report.batches = self.committer.done.batches.load(Ordering::SeqCst);
        self.report.elapsed = self.started.elapsed();
        if !self.report.stopped_early {
            self.call_progress();
        }
        Ok(self.report)
    }

    /// Ends an import that hit a fatal error (unreadable source): the batch being filled
    /// is dropped, commits already handed over finish, and the error says how many rows
    /// were committed before it.
    pub(crate) fn fail(mut self, e: Error) -> Error {
        self.batch = Batch::new(self.table, 0);
        let commit = self.committer.finish();
        let rows = self.committer.done.rows.load(Ordering::SeqCst);
        let batches = self.committer.done.batches.load(Ordering::SeqCst);
        let cause = e.cause_text().map(|c| format!(" ({c})")).unwrap_or_default();
        let msg = match commit {
            Ok(()) => format!(
                "import stopped after {} rows read: {}{cause}; {rows} rows in {batches} batches were committed",
                self.rows_read,
                e.message()
            ),
            Err(c) => format!("import stopped after {} rows read: {}{cause}; also {}", self.rows_read, e.message(), c.message()),
        };
        Error::new(e.kind(), msg)
    }
}
