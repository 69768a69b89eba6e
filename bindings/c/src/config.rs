//! Configuration as the `cidb` command sees it: profile defaults, machine-derived sizes, an
//! optional TOML file and `CIDB_*` environment variables (`cidb::config::load`). Used by
//! `cidb_engine_open_with`; `cidb_config_json` shows the effective values and their sources
//! without opening anything.

use crate::ffi::{boundary, c_string, invalid, opt_str, Out};
use crate::json;
use crate::status::cidb_status;
use cidb::config::Setting;
use cidb::{Config, Error, ErrorKind, Result};
use std::ffi::c_char;
use std::path::Path;

/// The `CIDB_*` variables of the process environment. A `CIDB_` variable whose name or value
/// is not UTF-8 is a `CIDB_CONFIG` error (ignoring it would silently drop a setting); other
/// variables are not looked at (`std::env::vars` would panic on them).
fn cidb_env() -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in std::env::vars_os() {
        if !k.as_encoded_bytes().starts_with(b"CIDB_") {
            continue;
        }
        let name = k.to_string_lossy().into_owned();
        match (k.into_string(), v.into_string()) {
            (Ok(k), Ok(v)) => out.push((k, v)),
            _ => return Err(Error::new(ErrorKind::Config, format!("environment variable {name} is not valid UTF-8"))),
        }
    }
    Ok(out)
}

/// Loads the configuration for `profile` (NULL-able) and the TOML file at `path` (NULL-able)
/// with the process's `CIDB_*` overrides.
pub(crate) fn load(profile: *const c_char, path: *const c_char) -> Result<(Config, Vec<Setting>)> {
    let profile = opt_str(profile, "profile")?;
    let path = opt_str(path, "config_toml_path")?;
    if path == Some("") {
        return Err(invalid("config_toml_path is empty (pass NULL for no file)"));
    }
    cidb::config::load(profile, path.map(Path::new), cidb_env()?)
}

/// Stores in `*out_json` the configuration `cidb_engine_open_with(dir, profile,
/// config_toml_path, ...)` would use, as a JSON array with one object per setting in a
/// fixed order: `[{"key": "profile", "value": "development", "source": "default"},
/// {"key": "l1_max_items", "value": "1000", "source": "profile:development"}, ...]`.
/// Values are text; `source` is `default`, `argument`, `profile:<name>`, `machine`,
/// `file:<path>` or `env:CIDB_<KEY>`. `profile` and `config_toml_path` may be NULL, as for
/// `cidb_engine_open_with`; the same errors apply (`CIDB_CONFIG`).
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_json` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_config_json(
    profile: *const c_char,
    config_toml_path: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let (_, settings) = load(profile, config_toml_path)?;
        out.set(c_string(json::to_text(&settings)?)?);
        Ok(())
    })
}
