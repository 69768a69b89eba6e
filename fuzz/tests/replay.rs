//! Replays the committed corpus (`fuzz/corpus/<target>/*`) and any saved crash inputs
//! (`fuzz/artifacts/<target>/*`) through the target bodies without libFuzzer, so every input
//! the fuzzers found interesting stays a regression test on stable Rust:
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for sub in ["corpus", "artifacts"] {
        let Ok(dir) = std::fs::read_dir(root.join(sub).join(target)) else { continue };
        let mut files: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            eprintln!("{target}: {}", f.display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no corpus for {target}");
    eprintln!("{target}: {n} inputs replayed");
}

#[test]
fn sql_frontend_corpus() {
    replay("sql_frontend", cidb_fuzz::sql_frontend::run);
}

#[test]
fn sql_differential_corpus() {
    replay("sql_differential", cidb_fuzz::sql_differential::run);
}

#[test]
fn c_abi_sequences_corpus() {
    replay("c_abi_sequences", cidb_fuzz::c_abi::run);
}

#[test]
fn engine_model_corpus() {
    replay("engine_model", cidb_fuzz::engine_model::run);
}

/// `CIDB_FUZZ_RANDOM=N cargo test ... -- --ignored random_inputs`: N pseudo-random inputs
/// per target (no coverage feedback; a quick check where cargo-fuzz is not available).
#[test]
#[ignore]
fn random_inputs() {
    let n: u64 = std::env::var("CIDB_FUZZ_RANDOM").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let targets: [(&str, fn(&[u8])); 4] = [
        ("sql_frontend", cidb_fuzz::sql_frontend::run),
        ("sql_differential", cidb_fuzz::sql_differential::run),
        ("c_abi_sequences", cidb_fuzz::c_abi::run),
        ("engine_model", cidb_fuzz::engine_model::run),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for (name, run) in targets {
        let start = std::time::Instant::now();
        for i in 0..n {
            let len = (i as usize * 37) % 2048;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            run(&data);
        }
        eprintln!("{name}: {n} random inputs in {:.1?}", start.elapsed());
    }
}
