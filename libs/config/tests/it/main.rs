//! Specification of Portolan's configuration loading.

// `figment::Jail` closures must return `figment::Result`, whose error type is large.
#![allow(clippy::result_large_err)]

mod defaults;
mod layering;
mod secrets;
mod settings;
mod validation;

use figment::Jail;
use portolan_config::{Config, ConfigError};

/// Loads through the real layering, turning a config error into a figment error for `Jail`.
/// Taking the jail proves the caller runs inside one.
fn load(_jail: &mut Jail) -> figment::Result<Config> {
    Config::load().map_err(|error| error.to_string().into())
}

/// Runs `f` in a jail whose environment holds no variables from the host.
fn jailed(f: impl FnOnce(&mut Jail) -> figment::Result<()>) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        f(jail)
    });
}

/// The error message of loading with one environment variable set.
fn load_error_with_env(key: &str, value: &str) -> String {
    let mut message = String::new();
    jailed(|jail| {
        jail.set_env(key, value);
        match Config::load() {
            Ok(config) => Err(format!("{key}={value} was accepted: {config:?}").into()),
            Err(error @ ConfigError::Invalid { .. }) => {
                message = error.to_string();
                Ok(())
            }
        }
    });
    message
}
