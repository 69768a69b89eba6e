//! # cidb-c
//!
//! The C ABI of cidb. This crate owns every `extern "C"` function, the opaque handle types
//! and the numbered [`cidb_status`]; cbindgen turns them into `include/cidb.h` (see
//! `build.rs`). The engine itself lives in the `cidb` crate, which knows nothing of C.
//!
//! Conventions every export follows (they are what makes the header grow cleanly):
//! - It runs inside [`ffi::boundary`] (or [`ffi::boundary_value`] for the few functions that
//!   do not return a status): a panic becomes `CIDB_INTERNAL`, an error becomes its
//!   `cidb_status` from `ErrorKind::binding()` and the thread's last error message.
//! - Pointer arguments go through [`ffi::arg_ref`], [`ffi::arg_str`] and [`ffi::Out`], so a
//!   NULL or non-UTF-8 argument is `CIDB_INVALID_INPUT` with a message naming it.
//! - Outputs go through `out_` parameters; every allocation handed to C has one release
//!   function (`cidb_string_free`, `cidb_bytes_free`, `cidb_engine_free`, `cidb_tenant_free`,
//!   `cidb_stmt_free`, `cidb_subscription_free`).
//! - Every doc comment (copied into the header) says who owns what and for how long.
//!
//! Adding an operation: write the Rust function in the module of its handle (or a new
//! module for a new handle, as `stmt.rs` is for prepared statements), follow the pattern of
//! a neighbour, rebuild (the header regenerates), and call it from a test in `tests/c/`
//! (`tests/c/run.sh` fails when a header function is not called by any test). Functions
//! that take a C callback run it through `callback::Gate` (see `feed.rs`, `monitor.rs`).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![allow(non_camel_case_types)]
// The exports are `extern "C" fn` (not `unsafe extern "C" fn`) like rustls-ffi: their
// contract with C is written in each doc comment and the header, and every pointer is
// checked for NULL before it is dereferenced.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

// Declaration order is the header's order (cbindgen `sort_by = "None"`).
pub mod version;
pub mod status;
pub mod error;
pub mod ffi;
pub mod json;
pub mod engine;
pub mod config;
pub mod tenant;
pub mod scores;
pub mod messages;
pub mod context;
mod callback;
pub mod feed;
pub mod monitor;
pub mod ops;
pub mod backup;
pub mod import;
pub mod sql;
pub mod stmt;
pub mod column;
pub mod cache;

pub use engine::cidb_engine;
pub use feed::cidb_subscription;
pub use cache::cidb_cache_sink;
pub use status::cidb_status;
pub use stmt::cidb_stmt;
pub use tenant::cidb_tenant;
