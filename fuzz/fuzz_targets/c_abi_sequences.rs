//! libFuzzer entry point of the `c_abi_sequences` target; the body is `cidb_fuzz::c_abi::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cidb_fuzz::c_abi::run(data));
