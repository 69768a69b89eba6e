//! libFuzzer entry point of the `engine_model` target; the body is `cidb_fuzz::engine_model::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cidb_fuzz::engine_model::run(data));
