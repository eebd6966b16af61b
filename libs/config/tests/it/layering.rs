use std::path::PathBuf;

use portolan_config::{Config, LogFormat};

use crate::{jailed, load, load_error_with_env};

#[test]
fn environment_variables_override_the_defaults() {
    jailed(|jail| {
        jail.set_env("PORTOLAN_HTTP_ADDR", "0.0.0.0:9090");
        jail.set_env("PORTOLAN_DB_MAX_CONNECTIONS", "42");
        jail.set_env("PORTOLAN_LOG_FORMAT", "json");
        jail.set_env("PORTOLAN_PUBLIC_URL", "https://portal.example.com");
        let config = load(jail)?;
        assert_eq!(config.http_addr, "0.0.0.0:9090");
        assert_eq!(config.db_max_connections, 42);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://portal.example.com")
        );
        assert_eq!(
            config.jwt_issuer, "portolan",
            "untouched keys keep defaults"
        );
        Ok(())
    });
}

#[test]
fn numeric_looking_strings_stay_strings() {
    jailed(|jail| {
        jail.set_env("PORTOLAN_BOOTSTRAP_CLIENT_ID", "12345");
        jail.set_env("PORTOLAN_BOOTSTRAP_CLIENT_SECRET", "true");
        jail.set_env("PORTOLAN_JWT_AUDIENCE", "[1, 2]");
        let config = load(jail)?;
        assert_eq!(config.bootstrap_client_id.as_deref(), Some("12345"));
        assert_eq!(config.jwt_audience, "[1, 2]");
        Ok(())
    });
}

#[test]
fn empty_environment_variables_count_as_unset() {
    jailed(|jail| {
        jail.set_env("PORTOLAN_DATABASE_URL", "");
        jail.set_env("PORTOLAN_HTTP_ADDR", "");
        let config = load(jail)?;
        assert!(config.database_url.is_none());
        assert_eq!(config.http_addr, "127.0.0.1:8080");
        Ok(())
    });
}

#[test]
fn the_config_file_overrides_defaults_and_env_overrides_the_file() {
    jailed(|jail| {
        jail.create_file(
            "portolan.toml",
            r#"
                http_addr = "127.0.0.1:7000"
                data_dir = "/srv/portolan"
                token_lifetime_secs = 600
                jwt_issuer = "from-file"
            "#,
        )?;
        jail.set_env("PORTOLAN_CONFIG_FILE", "portolan.toml");
        jail.set_env("PORTOLAN_JWT_ISSUER", "from-env");
        let config = load(jail)?;
        assert_eq!(config.http_addr, "127.0.0.1:7000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/portolan"));
        assert_eq!(config.token_lifetime_secs, 600);
        assert_eq!(config.jwt_issuer, "from-env");
        assert_eq!(config.jwt_audience, "portolan-api");
        Ok(())
    });
}

#[test]
fn a_config_file_that_does_not_exist_is_an_error() {
    let message = load_error_with_env("PORTOLAN_CONFIG_FILE", "missing.toml");
    assert!(
        message.starts_with("PORTOLAN_CONFIG_FILE: "),
        "got: {message}"
    );
    assert!(message.contains("missing.toml"), "got: {message}");
}

#[test]
fn a_malformed_config_file_is_an_error_naming_the_file() {
    jailed(|jail| {
        jail.create_file("broken.toml", "http_addr = ")?;
        jail.set_env("PORTOLAN_CONFIG_FILE", "broken.toml");
        let error = Config::load().expect_err("broken TOML must be rejected");
        let message = error.to_string();
        assert!(
            message.starts_with("PORTOLAN_CONFIG_FILE: "),
            "got: {message}"
        );
        assert!(message.contains("broken.toml"), "got: {message}");
        Ok(())
    });
}

#[test]
fn a_wrongly_typed_file_value_names_the_key_and_the_file() {
    jailed(|jail| {
        jail.create_file("portolan.toml", r#"db_max_connections = "many""#)?;
        jail.set_env("PORTOLAN_CONFIG_FILE", "portolan.toml");
        let message = Config::load().expect_err("must fail").to_string();
        assert!(
            message.starts_with("PORTOLAN_DB_MAX_CONNECTIONS: "),
            "got: {message}"
        );
        assert!(message.contains("portolan.toml"), "got: {message}");
        Ok(())
    });
}

#[test]
fn from_figment_accepts_test_supplied_layers() {
    jailed(|_| {
        let figment = Config::defaults_figment().merge(("bulk_max_entities", 5));
        let config = Config::from_figment(figment).map_err(|e| e.to_string())?;
        assert_eq!(config.bulk_max_entities, 5);
        Ok(())
    });
}
