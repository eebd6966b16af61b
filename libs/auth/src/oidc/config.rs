use std::collections::HashSet;
use std::net::IpAddr;

use reqwest::Url;
use serde::Deserialize;
use uuid::Uuid;

/// One trusted OpenID Connect issuer, as configured in `oidc_issuers`.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer identifier, compared exactly with the token's `iss`.
    pub issuer: String,
    /// The audience (client id) the token's `aud` must contain.
    pub audience: String,
    /// The organization (tenant) UUID that users of this issuer sign in to.
    pub org: String,
    /// Where the signing keys are published. Unset: found through OIDC discovery.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The claim holding the user's email address.
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// The claim holding the user's groups, if the issuer sends them.
    #[serde(default)]
    pub groups_claim: Option<String>,
}

fn default_email_claim() -> String {
    "email".to_owned()
}

/// Parses the `oidc_issuers` setting: a JSON array of
/// `{issuer, audience, org, jwksUrl?, emailClaim?, groupsClaim?}`. Fails with a message naming
/// the entry and the problem: invalid JSON, a missing or unknown member, an org that is not a
/// UUID, a duplicate issuer, or an issuer or `jwksUrl` that is not `https://` (`http://` is
/// accepted only for loopback hosts).
pub fn parse_issuers(json: &str) -> Result<Vec<IssuerConfig>, String> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|error| {
        if error.is_data() {
            format!("expected a JSON array of issuer objects: {error}")
        } else {
            format!("invalid JSON: {error}")
        }
    })?;
    let mut seen = HashSet::new();
    let mut issuers = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let config: IssuerConfig =
            serde_json::from_value(entry).map_err(|error| format!("issuer #{index}: {error}"))?;
        config
            .check()
            .map_err(|error| format!("issuer #{index} ({}): {error}", config.issuer))?;
        if !seen.insert(config.issuer.clone()) {
            return Err(format!(
                "issuer #{index}: duplicate issuer {}",
                config.issuer
            ));
        }
        issuers.push(config);
    }
    Ok(issuers)
}

impl IssuerConfig {
    fn check(&self) -> Result<(), String> {
        let issuer = check_url(&self.issuer).map_err(|error| format!("issuer {error}"))?;
        if issuer.query().is_some() {
            return Err("issuer must not have a query string".to_owned());
        }
        if self.audience.trim().is_empty() {
            return Err("audience must not be empty".to_owned());
        }
        Uuid::parse_str(&self.org)
            .map_err(|_| format!("org must be an organization UUID, got {:?}", self.org))?;
        if let Some(jwks_url) = &self.jwks_url {
            check_url(jwks_url).map_err(|error| format!("jwksUrl {error}"))?;
        }
        if self.email_claim.trim().is_empty() {
            return Err("emailClaim must not be empty".to_owned());
        }
        if self
            .groups_claim
            .as_ref()
            .is_some_and(|claim| claim.trim().is_empty())
        {
            return Err("groupsClaim must not be empty".to_owned());
        }
        Ok(())
    }
}

/// Parses `value` as an absolute `https://` URL (or `http://` to a loopback host), without
/// credentials or fragment. The error completes a sentence starting with the URL's role.
pub(crate) fn check_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|error| format!("{value:?} is not a URL: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{value} must use https:// (http:// is accepted only for loopback hosts)"
            ));
        }
        other => return Err(format!("{value} must use https://, not {other}://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{value} must not contain credentials"));
    }
    if url.fragment().is_some() {
        return Err(format!("{value} must not have a fragment"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
