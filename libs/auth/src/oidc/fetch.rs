//! Fetching an issuer's signing keys over HTTP: OIDC discovery, then the JWKS document.

use std::error::Error as _;
use std::time::Duration;

use reqwest::Client;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use super::config::{IssuerConfig, check_url};
use super::keys::KeySet;

/// Time allowed for one request, from connecting to the end of the body.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery or JWKS document accepted.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Fetches and parses the issuer's keys, from `jwksUrl` or else from the `jwks_uri` of its
/// discovery document.
pub(super) async fn fetch_keys(http: &Client, config: &IssuerConfig) -> Result<KeySet, String> {
    let jwks_url = match &config.jwks_url {
        Some(url) => url.clone(),
        None => discover_jwks_uri(http, &config.issuer).await?,
    };
    let body = get_capped(http, &jwks_url).await?;
    KeySet::from_jwks(&body).map_err(|error| format!("{jwks_url}: {error}"))
}

async fn discover_jwks_uri(http: &Client, issuer: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: Option<String>,
        jwks_uri: Option<String>,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get_capped(http, &url).await?;
    let discovery: Discovery = serde_json::from_slice(&body)
        .map_err(|error| format!("{url}: invalid discovery document: {error}"))?;
    if let Some(found) = &discovery.issuer
        && found != issuer
    {
        return Err(format!(
            "{url}: discovery document is for issuer {found}, not {issuer}"
        ));
    }
    let jwks_uri = discovery
        .jwks_uri
        .ok_or_else(|| format!("{url}: discovery document has no jwks_uri"))?;
    check_url(&jwks_uri).map_err(|error| format!("{url}: jwks_uri {error}"))?;
    Ok(jwks_uri)
}

/// GETs `url`, failing on a non-2xx status, after [`HTTP_TIMEOUT`], or on a body larger than
/// [`MAX_BODY_BYTES`].
async fn get_capped(http: &Client, url: &str) -> Result<Vec<u8>, String> {
    let mut response = http
        .get(url)
        .header(ACCEPT, "application/json")
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {}", chain(&error)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let too_large = || format!("GET {url}: response is larger than {MAX_BODY_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("GET {url}: {}", chain(&error)))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error and its causes, as `outer: cause: root cause`.
fn chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
