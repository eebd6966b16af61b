//! First start: with an empty database, create the default organization and its admin
//! credential set (from configuration, or generated and shown once).

use portolan_auth::secret::{generate_client_id, generate_client_secret, hash_secret};
use portolan_config::Config;
use portolan_domain::event::Actor;
use portolan_store::Store;
use portolan_store::orgs::NewCredential;
use secrecy::{ExposeSecret, SecretString};

/// The credentials created on first start. `generated` says whether the secret came from
/// configuration (then it is not printed) or was generated (then it is printed once).
pub struct Bootstrapped {
    pub client_id: String,
    pub client_secret: SecretString,
    pub generated: bool,
}

pub const DEFAULT_ORG_NAME: &str = "default";

pub async fn bootstrap(store: &Store, config: &Config) -> anyhow::Result<Option<Bootstrapped>> {
    if !store.has_no_organizations().await? {
        return Ok(None);
    }
    let client_id = config
        .bootstrap_client_id
        .clone()
        .unwrap_or_else(generate_client_id);
    let (client_secret, generated) = match &config.bootstrap_client_secret {
        Some(s) => (SecretString::from(s.expose_secret().to_owned()), false),
        None => (generate_client_secret(), true),
    };
    let secret_hash =
        hash_secret(SecretString::from(client_secret.expose_secret().to_owned())).await?;
    store
        .create_organization(
            DEFAULT_ORG_NAME,
            NewCredential {
                client_id: client_id.clone(),
                secret_hash,
                name: "bootstrap admin".into(),
                role: "Admin".into(),
            },
            &Actor::system(),
        )
        .await?;
    Ok(Some(Bootstrapped {
        client_id,
        client_secret,
        generated,
    }))
}
