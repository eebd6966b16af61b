//! Checks for Port's string formats that the `jsonschema` crate does not know (or knows only
//! behind features we keep off): registered as custom formats on every validator we build.

/// Every format a property (or an array's `items`) may declare.
pub const PORT_FORMATS: &[&str] = &[
    "date-time",
    "url",
    "email",
    "idn-email",
    "ipv4",
    "ipv6",
    "markdown",
    "yaml",
    "user",
    "team",
    "timer",
    "proto",
    "labeled-url",
    "blueprints",
];

/// Registers Port's custom formats on a set of validation options.
pub(crate) fn register(
    options: jsonschema::ValidationOptions<'_>,
) -> jsonschema::ValidationOptions<'_> {
    options
        .with_format("url", is_url)
        .with_format("labeled-url", is_url)
        .with_format("user", is_email)
        .with_format("idn-email", is_idn_email)
        .with_format("team", is_team)
        .with_format("timer", is_rfc3339)
        .with_format("markdown", any_string)
        .with_format("yaml", any_string)
        .with_format("proto", any_string)
        .with_format("blueprints", any_string)
}

fn any_string(_: &str) -> bool {
    true
}

/// A team name: any non-blank string.
pub fn is_team(s: &str) -> bool {
    !s.trim().is_empty()
}

/// An RFC 3339 date-time, e.g. `2024-05-01T10:00:00Z`.
pub fn is_rfc3339(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// An absolute URL with an authority: `scheme://host[:port][/path][?query][#fragment]`.
///
/// Deliberately more permissive than Port's (ajv's) `url`: any scheme, and hosts without a
/// top-level domain (`http://localhost:8080`) or on private networks are fine, which an internal
/// portal needs.
pub fn is_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    if !scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !scheme_chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = if let Some(bracketed) = host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        let Some((ip6, after)) = bracketed.split_once(']') else {
            return false;
        };
        if ip6.is_empty()
            || !ip6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return false;
        }
        match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        }
    } else {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_alphanumeric() || "-._~%".contains(c))
        {
            return false;
        }
        port
    };
    match port {
        None => true,
        Some(p) => !p.is_empty() && p.len() <= 5 && p.parse::<u32>().is_ok_and(|n| n <= 65_535),
    }
}

/// An e-mail address with an ASCII local part and domain (Port's `user` format).
pub fn is_email(s: &str) -> bool {
    email_like(s, false)
}

/// An e-mail address that may use non-ASCII letters (`idn-email`).
pub fn is_idn_email(s: &str) -> bool {
    email_like(s, true)
}

fn email_like(s: &str, unicode: bool) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let letter =
        |c: char| c.is_ascii_alphanumeric() || (unicode && !c.is_ascii() && c.is_alphanumeric());
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| letter(c) || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let domain_ok = !domain.is_empty()
        && domain.chars().count() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| letter(c) || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let cases = [
            ("https://example.com", true),
            ("http://localhost:8080/x?y=1#z", true),
            ("https://user:pw@git.internal/a/b", true),
            ("http://[::1]:9000/", true),
            ("http://10.0.0.1", true),
            ("s3://bucket/key", true),
            ("https://bücher.de", true),
            ("example.com", false),
            ("https://", false),
            ("https:///path", false),
            ("http://exa mple.com", false),
            ("http://host:99999", false),
            ("http://host:", false),
            ("http://host:8a", false),
            ("1http://host", false),
            ("http://[::1", false),
            ("http://[::1]x", false),
            ("", false),
        ];
        for (s, ok) in cases {
            assert_eq!(is_url(s), ok, "{s}");
        }
    }

    #[test]
    fn emails() {
        let cases = [
            ("a@b.co", true, true),
            ("first.last+tag@sub.example.com", true, true),
            ("admin@localhost", true, true),
            ("jörg@example.com", false, true),
            ("a@bücher.de", false, true),
            ("", false, false),
            ("a", false, false),
            ("@b.co", false, false),
            ("a@", false, false),
            ("a@b..co", false, false),
            (".a@b.co", false, false),
            ("a..b@b.co", false, false),
            ("a b@b.co", false, false),
            ("a@-b.co", false, false),
            ("a@b@c.co", false, false),
        ];
        for (s, ascii, idn) in cases {
            assert_eq!(is_email(s), ascii, "email {s}");
            assert_eq!(is_idn_email(s), idn, "idn-email {s}");
        }
    }

    #[test]
    fn timers_and_teams() {
        assert!(is_rfc3339("2024-05-01T10:00:00Z"));
        assert!(is_rfc3339("2024-05-01T10:00:00.123+02:00"));
        assert!(!is_rfc3339("2024-05-01"));
        assert!(!is_rfc3339("tomorrow"));
        assert!(is_team("platform"));
        assert!(!is_team(""));
        assert!(!is_team("   "));
        assert!(any_string(""));
    }
}
