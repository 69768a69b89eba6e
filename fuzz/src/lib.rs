//! # cidb-fuzz
//!
//! The bodies of cidb's libFuzzer targets, kept in a library so the thin binaries in
//! `fuzz_targets/` (built by `cargo fuzz` with sanitizer coverage) and the corpus replay test
//! (`tests/replay.rs`, plain `cargo test --no-default-features`) run the very same checks.
//! Every check failure panics with a message that names the divergence; libFuzzer records a
//! panic as a crash and saves the input under `fuzz/artifacts/<target>/`.
//!
//! - [`sql_frontend`]: any text through `Tenant::prepare` / `query` / `explain` and the
//!   fingerprinter: no panic, only SQL error kinds, DDL never changes query results.
//! - [`sql_differential`]: generated SELECTs of the supported subset, cidb against SQLite
//!   fed the same rows (the oracle of `core/tests/sql_differential.rs`).
//! - [`c_abi`]: sequences of C ABI calls with NULLs, bad UTF-8, bad JSON, closed handles.
//! - [`engine_model`]: operation sequences against an in-memory model (BTreeMaps).
//!
//! Scratch databases go to `/dev/shm` when it exists (fsync is free there), else to the
//! system temporary directory.

pub mod c_abi;
pub mod engine_model;
mod model;
mod oracle;
pub mod sql_differential;
pub mod sql_frontend;
mod sqlgen;

/// A fresh scratch directory for one fuzz input (removed when dropped).
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let b = tempfile::Builder::new().prefix("cidb-fuzz-").tempdir_in(shm);
    match b {
        Ok(d) => d,
        Err(_) => tempfile::Builder::new().prefix("cidb-fuzz-").tempdir().expect("cannot create a temporary directory"),
    }
}

/// Points `tempfile::tempdir()` (used by the shared SQL fixture) at `/dev/shm` when it is
/// usable. Called once, before any thread of ours starts.
fn prefer_shm_tmpdir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TMPDIR").is_none() && tempfile::tempdir_in("/dev/shm").is_ok() {
            std::env::set_var("TMPDIR", "/dev/shm");
        }
    });
}
