//! An issuer's published signing keys, reduced to the ones we are willing to verify with.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use serde::Deserialize;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// The signature algorithms accepted in an SSO token's header. Never `none`, never HMAC: the
/// issuer's keys are public, so a symmetric algorithm would let anyone forge tokens.
pub(super) const ACCEPTED_ALGORITHMS: [(&str, Algorithm); 7] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// The kind of public key a signature algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

fn key_type_for(alg: Algorithm) -> Option<KeyType> {
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 => {
            Some(KeyType::Rsa)
        }
        Algorithm::ES256 => Some(KeyType::P256),
        Algorithm::ES384 => Some(KeyType::P384),
        Algorithm::EdDSA => Some(KeyType::Ed25519),
        _ => None,
    }
}

/// One usable public key: its type, and the algorithm it is pinned to if the JWK names one.
struct VerificationKey {
    key: DecodingKey,
    key_type: KeyType,
    alg: Option<Algorithm>,
}

impl VerificationKey {
    /// The key for a JWK, or `None` if it cannot or must not verify signatures: encryption
    /// keys, symmetric (`oct`) keys, unsupported curves or algorithms, short RSA moduli.
    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return None;
        }
        if let Some(ops) = &jwk.common.key_operations
            && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
        {
            return None;
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(named) => {
                let alg = Algorithm::from_str(&named.to_string()).ok()?;
                key_type_for(alg)?;
                Some(alg)
            }
        };
        let key_type = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyType::Rsa,
            AlgorithmParameters::EllipticCurve(params) => match params.curve {
                EllipticCurve::P256 => KeyType::P256,
                EllipticCurve::P384 => KeyType::P384,
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(params) => match params.curve {
                EllipticCurve::Ed25519 => KeyType::Ed25519,
                _ => return None,
            },
            AlgorithmParameters::OctetKey(_) => return None,
        };
        if alg.is_some_and(|alg| key_type_for(alg) != Some(key_type)) {
            return None;
        }
        let key = DecodingKey::from_jwk(jwk).ok()?;
        if let DecodingKeyKind::RsaModulusExponent { n, .. } = key.kind()
            && modulus_bits(n) < MIN_RSA_BITS
        {
            return None;
        }
        Some(VerificationKey { key, key_type, alg })
    }

    fn accepts(&self, alg: Algorithm) -> bool {
        key_type_for(alg) == Some(self.key_type) && self.alg.is_none_or(|pinned| pinned == alg)
    }
}

fn modulus_bits(n: &[u8]) -> usize {
    let significant: &[u8] = match n.iter().position(|&byte| byte != 0) {
        Some(first) => &n[first..],
        None => &[],
    };
    match significant.first() {
        Some(&top) => (significant.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

/// The result of looking a key up for a token.
pub(super) enum Lookup<'a> {
    /// The key to verify the token with.
    Found(&'a DecodingKey),
    /// A key exists but must not be used with the token's algorithm (or is ambiguous).
    Unsuitable(String),
    /// No key: the issuer may have rotated its keys since they were fetched.
    Missing,
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Default)]
pub(super) struct KeySet {
    by_kid: HashMap<String, VerificationKey>,
    without_kid: Vec<VerificationKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.by_kid.keys().collect();
        kids.sort();
        f.debug_struct("KeySet")
            .field("kids", &kids)
            .field("without_kid", &self.without_kid.len())
            .finish()
    }
}

impl KeySet {
    /// Parses a JWKS document. Keys that are malformed or unusable for signature verification
    /// are skipped, so one exotic key does not hide the others; the first key with a given
    /// `kid` wins.
    pub(super) fn from_jwks(body: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct RawJwkSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawJwkSet =
            serde_json::from_slice(body).map_err(|error| format!("invalid JWKS: {error}"))?;
        let jwks = JwkSet {
            keys: raw
                .keys
                .into_iter()
                .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
                .collect(),
        };
        let mut set = KeySet::default();
        for jwk in &jwks.keys {
            let Some(key) = VerificationKey::from_jwk(jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.entry(kid.clone()).or_insert(key);
                }
                None => set.without_kid.push(key),
            }
        }
        Ok(set)
    }

    /// The key for a token signed with `alg` naming `kid`. A token without `kid` is accepted
    /// only if exactly one key of the issuer fits its algorithm.
    pub(super) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(key) if key.accepts(alg) => Lookup::Found(&key.key),
                Some(key) => Lookup::Unsuitable(format!(
                    "algorithm {alg:?} does not match signing key {kid} ({:?}{})",
                    key.key_type,
                    key.alg
                        .map(|pinned| format!(", pinned to {pinned:?}"))
                        .unwrap_or_default()
                )),
                None => Lookup::Missing,
            },
            None => {
                let mut fitting = self
                    .by_kid
                    .values()
                    .chain(&self.without_kid)
                    .filter(|key| key.accepts(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(&key.key),
                    (Some(_), Some(_)) => Lookup::Unsuitable(
                        "token has no key id and the issuer has several keys".to_owned(),
                    ),
                    (None, _) => Lookup::Missing,
                }
            }
        }
    }
}
