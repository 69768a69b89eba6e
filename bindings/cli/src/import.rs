//! `cidb import`: bulk-loads a CSV, JSON Lines or SQLite file (or CSV/JSONL on stdin) into
//! one table of one tenant through `Tenant::import_*`, with a progress bar on stderr, then
//! prints the report (imported, rejected, the first rejects with their lines). Rejected
//! rows do not make the command fail; an unreadable input or a storage failure does.

use cidb::import::{import_table, ImportFormat};
use cidb::{Config, Engine, Error, ErrorKind, ImportOptions, ImportReport, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of `cidb import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Database directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Tenant to import into.
    #[arg(long)]
    pub tenant: String,
    /// Target table: customers, customer_scores or conversation_messages.
    #[arg(long)]
    pub table: String,
    /// Input format (default: from the file name: .csv/.tsv, .jsonl/.ndjson, .sqlite/.db).
    #[arg(long, value_parser = ["csv", "jsonl", "sqlite"])]
    pub format: Option<String>,
    /// Table (or view) to read from a SQLite file (default: one named like --table, or the
    /// file's only table).
    #[arg(long)]
    pub source_table: Option<String>,
    /// Rows per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// Rejects to print (all are counted).
    #[arg(long, default_value_t = 20)]
    pub show_rejects: usize,
    /// Skip columns the table does not have instead of failing.
    #[arg(long)]
    pub ignore_unknown_columns: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// The file to import; `-` reads CSV or JSONL (give --format) from stdin.
    pub file: PathBuf,
}

fn usage(msg: String) -> Error {
    Error::new(ErrorKind::InvalidInput, msg)
}

fn progress_bar(args: &ImportArgs, total_bytes: Option<u64>) -> ProgressBar {
    let pb = match total_bytes {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} rows {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .progress_chars("=> "),
        ),
    };
    if args.quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}

/// Runs the import.
pub fn run(args: ImportArgs) -> Result<()> {
    let table = import_table(&args.table)?;
    let stdin = args.file == Path::new("-");
    let format = match &args.format {
        Some(f) => f.parse::<ImportFormat>()?,
        None if stdin => return Err(usage("reading stdin needs --format csv or --format jsonl".into())),
        None => ImportFormat::from_path(&args.file).ok_or_else(|| {
            usage(format!("cannot tell the format of {} from its name; give --format", args.file.display()))
        })?,
    };
    if stdin && format == ImportFormat::Sqlite {
        return Err(usage("a SQLite database cannot be read from stdin; give its path".into()));
    }
    if args.source_table.is_some() && format != ImportFormat::Sqlite {
        return Err(usage("--source-table applies to SQLite files only".into()));
    }
    // Fail on an unreadable input before touching the database.
    let total_bytes = if stdin {
        None
    } else {
        let meta = std::fs::metadata(&args.file)
            .map_err(|e| Error::with_source(ErrorKind::InvalidInput, format!("cannot read {}", args.file.display()), e))?;
        if !meta.is_file() {
            return Err(usage(format!("{} is not a file", args.file.display())));
        }
        (format != ImportFormat::Sqlite).then_some(meta.len())
    };

    let pb = progress_bar(&args, total_bytes);
    let bar = pb.clone();
    let mut opts = ImportOptions {
        batch_size: args.batch_size,
        max_rejects_reported: args.show_rejects.max(if args.json { 1_000 } else { 0 }),
        ignore_unknown_columns: args.ignore_unknown_columns,
        ..ImportOptions::default()
    };
    opts.progress = Some(Arc::new(move |p: &cidb::ImportProgress| {
        match (total_bytes, p.total_rows) {
            (Some(_), _) => bar.set_position(p.bytes_read),
            (None, Some(n)) => {
                bar.set_length(n);
                bar.set_position(p.rows_read);
            }
            (None, None) => bar.set_position(p.rows_read),
        }
        bar.set_message(format!("{} rows, {} rejected", p.rows_read, p.rejected));
        true
    }));

    let db = Engine::open(&args.dir, Config::default())?;
    let result = import(&db, &args, table, format, &opts);
    pb.finish_and_clear();
    let closed = db.close();
    let report = result?;
    closed?;
    print_report(&args, &report);
    Ok(())
}

fn import(db: &Engine, args: &ImportArgs, table: cidb::Table, format: ImportFormat, opts: &ImportOptions) -> Result<ImportReport> {
    let t = db.tenant(&args.tenant)?;
    if args.file == Path::new("-") {
        let input = std::io::stdin().lock();
        return match format {
            ImportFormat::Csv => t.import_csv(table, input, opts),
            _ => t.import_jsonl(table, input, opts),
        };
    }
    match format {
        ImportFormat::Sqlite => t.import_sqlite(table, &args.file, args.source_table.as_deref(), opts),
        other => t.import_file(table, &args.file, Some(other), opts),
    }
}

/// Prints the report on stdout. A closed stdout (`| head`) is not an error: the import is
/// done and committed by then.
fn print_report(args: &ImportArgs, r: &ImportReport) {
    let _ = write_report(&mut std::io::stdout().lock(), args, r);
}

fn write_report(out: &mut impl Write, args: &ImportArgs, r: &ImportReport) -> std::io::Result<()> {
    if args.json {
        return writeln!(out, "{}", serde_json::to_string_pretty(r).unwrap_or_default());
    }
    let secs = r.elapsed.as_secs_f64();
    writeln!(
        out,
        "imported {} rows into {}/{} in {} batches ({:.2} s, {:.0} rows/s)",
        r.imported,
        args.tenant,
        args.table,
        r.batches,
        secs,
        if secs > 0.0 { r.imported as f64 / secs } else { 0.0 }
    )?;
    if r.stopped_early {
        writeln!(out, "stopped early")?;
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    if r.rejected == 0 {
        return writeln!(out, "rejected 0 rows");
    }
    writeln!(out, "rejected {} rows:", r.rejected)?;
    for j in r.rejects.iter().take(args.show_rejects) {
        writeln!(out, "  line {}: {}: {}", j.line, j.kind, j.reason)?;
    }
    let shown = r.rejects.len().min(args.show_rejects) as u64;
    if r.rejected > shown {
        writeln!(out, "  ... and {} more", r.rejected - shown)?;
    }
    Ok(())
}
