//! Configuration as every cidb front end sees it (`cidb::config::load`): a profile's
//! defaults, sizes derived from the machine, an optional TOML file, then the process's
//! `CIDB_*` environment variables, each later source overriding the earlier. `open(path,
//! {profile, config})` opens with the result; `config({profile, config})` shows the effective
//! values and where each came from without opening anything. This module reads the options
//! object and the environment; the rules themselves live in the core.

use crate::convert::{object, opt_text, Val};
use cidb::config::Setting as CoreSetting;
use cidb::{Config, Error, ErrorKind};
use napi::bindgen_prelude::{Env, Unknown};
use napi_derive::napi;
use std::path::Path;

type Result<T> = cidb::Result<T>;

/// Options for `open` and `config`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct OpenOptions {
    /// The configuration profile: `development` (small memory footprint; the default unless
    /// the file or `CIDB_PROFILE` names one) or `production`. `CIDB_PROFILE` in the
    /// environment wins over this option.
    #[napi(ts_type = "'development' | 'production' | null")]
    pub profile: Option<String>,
    /// Path of a TOML file of settings (keys as `config()` lists them, e.g.
    /// `l1_max_items = 5000`); an unknown key or a bad value is `CIDB_CONFIG`.
    #[napi(ts_type = "string | null")]
    pub config: Option<String>,
}

impl OpenOptions {
    /// Reads the optional options object.
    pub fn read(v: Option<&Unknown<'_>>) -> Result<OpenOptions> {
        let Some(v) = v.map(Val::of).filter(|v| !v.is_absent()) else {
            return Ok(OpenOptions { profile: None, config: None });
        };
        let o = object(v, "options")?;
        let profile = opt_text(o.get("profile", "options.profile")?, "options.profile")?;
        let config = opt_text(o.get("config", "options.config")?, "options.config")?;
        if config.as_deref() == Some("") {
            return Err(Error::new(ErrorKind::InvalidInput, "options.config is empty (leave it out for no file)"));
        }
        Ok(OpenOptions { profile, config })
    }

    /// The effective configuration and its sources.
    pub fn load(&self) -> Result<(Config, Vec<CoreSetting>)> {
        cidb::config::load(self.profile.as_deref(), self.config.as_deref().map(Path::new), cidb_env()?)
    }
}

/// The `CIDB_*` variables of the process environment. One whose name or value is not UTF-8
/// is a `Config` error (ignoring it would silently drop a setting); other variables are not
/// looked at.
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

/// One effective setting and where its value came from.
#[napi(object, object_from_js = false)]
pub struct Setting {
    /// The key, as written in a TOML file (the variable is `CIDB_` + the key in upper case).
    pub key: String,
    /// The effective value, as text.
    pub value: String,
    /// Where it came from: `default`, `argument`, `profile:<name>`, `machine`,
    /// `file:<path>` or `env:CIDB_<KEY>`.
    pub source: String,
}

impl From<CoreSetting> for Setting {
    fn from(s: CoreSetting) -> Self {
        Setting { key: s.key.to_string(), value: s.value, source: s.source }
    }
}

/// The configuration `open(path, options)` would use: every setting in a fixed order, with
/// its effective value and source. Reads the TOML file and the `CIDB_*` environment
/// variables; opens nothing. Errors as `open` (`CIDB_CONFIG`).
#[napi(ts_return_type = "Setting[]")]
pub fn config(env: Env, #[napi(ts_arg_type = "OpenOptions | null")] options: Option<Unknown<'_>>) -> napi::Result<Vec<Setting>> {
    crate::task::run_sync(&env, || {
        let (_, settings) = OpenOptions::read(options.as_ref())?.load()?;
        Ok(crate::task::job(move || Ok(settings.into_iter().map(Setting::from).collect())))
    })
}
