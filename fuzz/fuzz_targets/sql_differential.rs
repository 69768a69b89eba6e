//! libFuzzer entry point of the `sql_differential` target; the body is `cidb_fuzz::sql_differential::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cidb_fuzz::sql_differential::run(data));
