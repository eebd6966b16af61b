//! The `oidc_issuers` setting.

use portolan_auth::oidc::{IssuerConfig, parse_issuers};

use super::ORG;

#[test]
fn issuers_parse_with_defaults() {
    let issuers = parse_issuers(
        r#"[
            {"issuer": "https://login.example.com", "audience": "portolan", "org": "6f1c2b1e-8f7a-4c4e-9d55-3f0c2a9b7e01"},
            {"issuer": "http://localhost:8080/realms/dev", "audience": "portolan", "org": "6f1c2b1e-8f7a-4c4e-9d55-3f0c2a9b7e02",
             "jwksUrl": "http://[::1]:8080/certs", "emailClaim": "upn", "groupsClaim": "roles"}
        ]"#,
    )
    .expect("valid");

    assert_eq!(
        issuers,
        vec![
            IssuerConfig {
                issuer: "https://login.example.com".to_owned(),
                audience: "portolan".to_owned(),
                org: "6f1c2b1e-8f7a-4c4e-9d55-3f0c2a9b7e01".to_owned(),
                jwks_url: None,
                email_claim: "email".to_owned(),
                groups_claim: None,
            },
            IssuerConfig {
                issuer: "http://localhost:8080/realms/dev".to_owned(),
                audience: "portolan".to_owned(),
                org: "6f1c2b1e-8f7a-4c4e-9d55-3f0c2a9b7e02".to_owned(),
                jwks_url: Some("http://[::1]:8080/certs".to_owned()),
                email_claim: "upn".to_owned(),
                groups_claim: Some("roles".to_owned()),
            },
        ]
    );
    assert_eq!(parse_issuers("[]"), Ok(Vec::new()));
}

#[test]
fn bad_issuer_settings_are_explained() {
    let entry = |fields: &str| {
        format!(
            r#"[{{"issuer": "https://a.example", "audience": "portolan", "org": "{ORG}"{fields}}}]"#
        )
    };
    let cases = [
        ("[{".to_owned(), "invalid JSON"),
        (r#"{"issuer": "x"}"#.to_owned(), "expected a JSON array"),
        (
            format!(r#"[{{"issuer": "https://a.example", "org": "{ORG}"}}]"#),
            "issuer #0: missing field `audience`",
        ),
        (
            entry(r#", "jwksURL": "https://a.example/keys""#),
            "unknown field `jwksURL`",
        ),
        (
            format!(
                "[{}, {}]",
                entry("").trim_matches(['[', ']']),
                entry("").trim_matches(['[', ']'])
            ),
            "issuer #1: duplicate issuer https://a.example",
        ),
        (
            format!(r#"[{{"issuer": "http://a.example", "audience": "p", "org": "{ORG}"}}]"#),
            "issuer http://a.example must use https://",
        ),
        (
            entry(r#", "jwksUrl": "http://10.0.0.1/keys""#),
            "jwksUrl http://10.0.0.1/keys must use https://",
        ),
        (entry(r#", "jwksUrl": "keys""#), "is not a URL"),
        (
            r#"[{"issuer": "https://a.example", "audience": "p", "org": "acme"}]"#.to_owned(),
            "org must be an organization UUID",
        ),
        (
            entry(r#", "emailClaim": """#),
            "emailClaim must not be empty",
        ),
    ];
    for (json, expected) in cases {
        let error = parse_issuers(&json).expect_err(&json);
        assert!(
            error.contains(expected),
            "{json}: {error:?} lacks {expected:?}"
        );
    }
}
