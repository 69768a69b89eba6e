//! The `cidb` command. Each subcommand lives in its own module; this file only parses the
//! command line and maps errors to an exit status (1 for a cidb error, 2 for usage).

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
    /// Bulk-import a CSV, JSONL or SQLite file into one table of one tenant.
    Import(import::ImportArgs),
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
        Command::Stats { dir } => stats(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cidb: {e}");
            ExitCode::from(1)
        }
    }
}

fn stats(dir: Option<PathBuf>) -> cidb::Result<()> {
    let db = cidb::Engine::open(dir.unwrap_or_else(demo::default_dir), cidb::Config::default())?;
    let s = db.stats()?;
    println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
    db.close()
}
