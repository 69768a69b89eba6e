//! Generates `include/cidb.h` from this crate's `extern "C"` items with cbindgen. The header
//! is committed; `tests/c/run.sh` fails when a build leaves it different from the commit.
//! The version macros come from `CARGO_PKG_VERSION` so the header and `cidb_version()`
//! cannot disagree.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../include/cidb.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let version = std::env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION");
    let part = |name: &str| std::env::var(name).expect("version part");
    config.after_includes = Some(format!(
        "\n/* The version of cidb this header belongs to; cidb_version() returns the library's. */\n\
         #define CIDB_VERSION \"{version}\"\n\
         #define CIDB_VERSION_MAJOR {}\n\
         #define CIDB_VERSION_MINOR {}\n\
         #define CIDB_VERSION_PATCH {}\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    ));

    match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        // write_to_file only touches the file when its contents change.
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => panic!("cbindgen could not generate {}: {e}", header.display()),
    }
}
