//! The `cidb` command. Each subcommand lives in its own module; this file only parses the
//! command line and maps errors to an exit status (1 for a cidb error, 2 for usage).

mod bench;
mod demo;
mod import;

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
    /// Run the benchmark suite on a generated dataset (optionally side by side with SQLite).
    Bench(Box<bench::BenchArgs>),
    /// Print store sizes and writer counters as JSON.
    Stats {
        /// Database directory (default: the demo directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Import(args) => import::run(args),
        Command::Bench(args) => bench::run(*args),
        Command::Stats { dir } => stats(dir),
        Command::Config { profile, file, json } => show_config(profile, file, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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

fn stats(dir: Option<PathBuf>) -> cidb::Result<()> {
    let (cfg, _) = effective_config(None, None)?;
    let db = cidb::Engine::open(dir.unwrap_or_else(demo::default_dir), cfg)?;
    let s = db.stats()?;
    println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
    db.close()
}
