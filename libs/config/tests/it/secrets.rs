use secrecy::ExposeSecret;

use crate::{jailed, load};

#[test]
fn secrets_are_loaded_but_never_printed_by_debug() {
    jailed(|jail| {
        jail.set_env(
            "PORTOLAN_DATABASE_URL",
            "postgres://app:db-pass-1@db/portolan",
        );
        jail.set_env("PORTOLAN_AMQP_URL", "amqp://app:mq-pass-2@mq/%2f");
        jail.set_env("PORTOLAN_REDIS_URL", "redis://:redis-pass-3@cache/0");
        jail.set_env("PORTOLAN_BOOTSTRAP_CLIENT_ID", "bootstrap");
        jail.set_env("PORTOLAN_BOOTSTRAP_CLIENT_SECRET", "client-pass-4");
        let config = load(jail)?;

        let debug = format!("{config:?} {config:#?}");
        for secret in ["db-pass-1", "mq-pass-2", "redis-pass-3", "client-pass-4"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("REDACTED"));
        assert!(debug.contains("bootstrap"), "non-secret id stays visible");

        let secret = config
            .bootstrap_client_secret
            .as_ref()
            .map(|s| s.expose_secret());
        assert_eq!(secret, Some("client-pass-4"));
        assert_eq!(
            config.database_url_or_default(),
            "postgres://app:db-pass-1@db/portolan"
        );
        Ok(())
    });
}
