//! The `cidb` command. Each subcommand lives in its own module; this file only parses the
//! command line and maps errors to an exit status (1 for a cidb error or an unhealthy
//! `health`, 2 for usage).

mod admin;
mod bench;
mod demo;
mod import;
mod table;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cidb", version, about = "cidb: embedded customer-intelligence data engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build (or reuse) a generated dataset and print a summary with sample lookups.
    Demo(demo::DemoArgs),
    /// Print the effective configuration and where each value came from.
    Config {
        /// Profile: development or production (default: $CIDB_PROFILE, the file, or development).
        #[arg(long)]
        profile: Option<String>,
        /// A TOML file of settings (default: $CIDB_CONFIG if set).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bulk-import a CSV, JSONL or SQLite file into one table of one tenant.
    Import(import::ImportArgs),
    /// Run one SQL statement for a tenant and print the rows as a table.
    Sql(admin::SqlArgs),
    /// Print a query's plan (EXPLAIN, or EXPLAIN ANALYZE with --analyze).
    Explain(admin::ExplainArgs),
    /// Print engine, cache, breaker, index-usage and statement statistics (JSON, or
    /// Prometheus text with --prometheus).
    Stats(admin::StatsArgs),
    /// The recorded statements by total time (pg_stat_statements style).
    Top(admin::TopArgs),
    /// Index recommendations from the recorded workload; --apply builds them online.
    Advise(admin::AdviseArgs),
    /// Check storage, breaker, cache and indexes; exits 1 when unhealthy.
    Health(admin::HealthArgs),
    /// ANALYZE, build the advisor's indexes above --min-gain, warm the cache.
    Optimize(admin::OptimizeArgs),
    /// Run the benchmark suite on a generated dataset (optionally side by side with SQLite).
    Bench(Box<bench::BenchArgs>),
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`cidb top | head`) instead of panicking on the failed print. Rust ignores SIGPIPE by
    // default; restoring the default action is the usual fix.
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let ok = |r: cidb::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Demo(args) => ok(demo::run(args)),
        Command::Import(args) => ok(import::run(args)),
        Command::Config { profile, file, json } => ok(show_config(profile, file, json)),
        Command::Sql(a) => admin::sql(a),
        Command::Explain(a) => admin::explain(a),
        Command::Stats(a) => admin::stats(a),
        Command::Top(a) => admin::top(a),
        Command::Advise(a) => admin::advise(a),
        Command::Health(a) => admin::health(a),
        Command::Optimize(a) => admin::optimize(a),
        Command::Bench(args) => ok(bench::run(*args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cidb: {e}");
            ExitCode::from(1)
        }
    }
}

/// The effective configuration for commands that open a database: profile and file from
/// the arguments or `CIDB_PROFILE` / `CIDB_CONFIG`, then `CIDB_*` overrides.
pub fn effective_config(profile: Option<&str>, file: Option<PathBuf>) -> cidb::Result<(cidb::Config, Vec<cidb::config::Setting>)> {
    let file = file.or_else(|| std::env::var_os("CIDB_CONFIG").map(PathBuf::from));
    cidb::config::load(profile, file.as_deref(), std::env::vars())
}

fn show_config(profile: Option<String>, file: Option<PathBuf>, json: bool) -> cidb::Result<()> {
    let (_, settings) = effective_config(profile.as_deref(), file)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&settings).unwrap_or_default());
    } else {
        for s in settings {
            println!("{:<24} {:<14} {}", s.key, s.value, s.source);
        }
    }
    Ok(())
}
