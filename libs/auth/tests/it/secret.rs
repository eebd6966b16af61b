use portolan_auth::AuthError;
use portolan_auth::secret::{
    generate_client_id, generate_client_secret, hash_secret, verify_secret,
};
use secrecy::{ExposeSecret, SecretString};

#[test]
fn client_ids_are_32_random_alphanumerics() {
    let id = generate_client_id();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert_ne!(id, generate_client_id());
}

#[test]
fn client_secrets_are_64_random_alphanumerics() {
    let secret = generate_client_secret();
    let exposed = secret.expose_secret();
    assert_eq!(exposed.len(), 64);
    assert!(exposed.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(exposed, generate_client_secret().expose_secret());
    assert!(!format!("{secret:?}").contains(exposed));
}

#[tokio::test]
async fn a_hashed_secret_verifies_and_another_does_not() {
    let secret = generate_client_secret();
    let phc = hash_secret(secret.clone()).await.expect("hash");
    assert!(
        phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "OWASP argon2id parameters: {phc}"
    );
    assert!(!phc.contains(secret.expose_secret()));

    assert!(verify_secret(secret, phc.clone()).await.expect("verify"));
    let wrong = SecretString::from("not-the-secret");
    assert!(!verify_secret(wrong, phc).await.expect("verify"));
}

#[tokio::test]
async fn hashes_are_salted() {
    let secret = SecretString::from("same secret");
    let first = hash_secret(secret.clone()).await.expect("hash");
    let second = hash_secret(secret.clone()).await.expect("hash");
    assert_ne!(first, second);
    assert!(verify_secret(secret.clone(), first).await.expect("verify"));
    assert!(verify_secret(secret, second).await.expect("verify"));
}

#[tokio::test]
async fn a_malformed_stored_hash_is_an_internal_error() {
    let result = verify_secret(SecretString::from("x"), "not a phc string".to_owned()).await;
    assert!(matches!(result, Err(AuthError::Internal(_))), "{result:?}");
}
