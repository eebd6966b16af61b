use crate::{CONFIG_FILE_ENV, ENV_PREFIX};

/// Why the configuration could not be loaded. The message always starts with the name of the
/// offending setting, in its environment-variable form.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is missing, has the wrong type or fails validation.
    #[error("{key}: {message}")]
    Invalid {
        /// The setting, e.g. `PORTOLAN_HTTP_ADDR`.
        key: String,
        /// What is wrong with it. Never contains a secret value.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: env_name(key),
            message: message.into(),
        }
    }

    /// Converts the first error figment reports, naming the key and where its value came from.
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let origin = error.metadata.as_ref().map(|md| match &md.source {
            Some(source) => format!("{} {source}", md.name),
            None => md.name.to_string(),
        });
        if error.path.is_empty() {
            // Errors without a key come from a provider as a whole: the TOML file.
            let kind = error.kind.to_string();
            let message = match origin {
                Some(origin) => format!("{origin}: {}", kind.trim_end()),
                None => kind.trim_end().to_owned(),
            };
            return ConfigError::Invalid {
                key: CONFIG_FILE_ENV.to_owned(),
                message,
            };
        }
        let key = error.path.join(".");
        let message = match origin {
            Some(origin) => format!("{} (from {origin})", error.kind),
            None => error.kind.to_string(),
        };
        ConfigError::invalid(&key, message)
    }
}

/// `http_addr` -> `PORTOLAN_HTTP_ADDR`.
pub(crate) fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}
