//! libFuzzer entry point of the `sql_frontend` target; the body is `cidb_fuzz::sql_frontend::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cidb_fuzz::sql_frontend::run(data));
