//! Encryption at rest of organization secrets: AES-256-GCM under a ring of named keys.
//!
//! A [`KeyRing`] holds one or more 256-bit keys, each with an id (`kid`). The first is the
//! primary: [`KeyRing::seal`] always uses it, and records its id next to the ciphertext, so
//! [`KeyRing::open`] can still decrypt what older keys sealed. Rotating is: put a new key first,
//! keep the old ones after it, re-seal every stored secret (`portolan rotate-secret-keys`), then
//! drop the old keys.
//!
//! Every seal takes associated data (AAD) that is authenticated but not stored: the caller
//! binds the ciphertext to where it lives (an org and a secret name), so a sealed value copied
//! to another row does not open there.
//!
//! Neither the keys nor anything derived from them ever appears in `Debug` output or in an
//! error message.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

/// Length of a key, in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of the random nonce stored in front of each ciphertext (96 bits).
pub const NONCE_LEN: usize = 12;
/// Length of the GCM authentication tag at the end of each ciphertext.
pub const TAG_LEN: usize = 16;
/// Longest key id (the `org_secrets.key_id` column holds 64 characters).
pub const MAX_KID_LEN: usize = 64;
/// Name of the key file created in the data directory when no keys are configured.
pub const KEY_FILE: &str = "secrets.key";

/// Why a key ring could not be built or a value could not be sealed or opened. The messages
/// name key ids and entry positions, never key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key specification does not parse.
    #[error("invalid secrets key specification: {0}")]
    InvalidSpec(String),
    /// The value was sealed with a key this ring does not hold.
    #[error("no secrets key with id '{0}' is configured")]
    UnknownKey(String),
    /// Authentication failed: wrong key, tampered data, or data bound to another place.
    #[error("the sealed value does not open: tampered, truncated, or bound to another secret")]
    Open,
    /// Encryption itself failed (it cannot for valid input, but is not unwrapped).
    #[error("encryption failed")]
    Seal,
    /// The key file could not be read or created.
    #[error("secrets key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
}

/// One named key.
#[derive(Clone)]
struct NamedKey {
    kid: String,
    cipher: Aes256Gcm,
}

/// A ring of AES-256-GCM keys; the first is the primary. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<NamedKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl KeyRing {
    /// Parses `kid:base64(32 bytes),kid2:base64(32 bytes),...`; the first entry is the primary.
    /// Whitespace around entries is ignored. Key ids are 1 to 64 characters of `A-Za-z0-9_.-`
    /// and must be distinct. Errors name the entry by position, never its content.
    pub fn parse(spec: &str) -> Result<KeyRing, SealError> {
        let mut keys: Vec<NamedKey> = Vec::new();
        for (i, entry) in spec.split(',').map(str::trim).enumerate() {
            let n = i + 1;
            if entry.is_empty() {
                return Err(SealError::InvalidSpec(format!("entry {n} is empty")));
            }
            let Some((kid, b64)) = entry.split_once(':') else {
                return Err(SealError::InvalidSpec(format!(
                    "entry {n} is not of the form <kid>:<base64 key>"
                )));
            };
            let kid = kid.trim();
            if !valid_kid(kid) {
                return Err(SealError::InvalidSpec(format!(
                    "entry {n}: the key id must be 1 to {MAX_KID_LEN} characters of A-Za-z0-9_.-"
                )));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(SealError::InvalidSpec(format!(
                    "entry {n}: key id '{kid}' appears twice"
                )));
            }
            let bytes = Zeroizing::new(STANDARD.decode(b64.trim()).map_err(|_| {
                SealError::InvalidSpec(format!("entry {n} ('{kid}'): the key is not valid base64"))
            })?);
            if bytes.len() != KEY_LEN {
                return Err(SealError::InvalidSpec(format!(
                    "entry {n} ('{kid}'): the key must be {KEY_LEN} bytes, base64-encoded"
                )));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| {
                SealError::InvalidSpec(format!("entry {n} ('{kid}'): the key is unusable"))
            })?;
            keys.push(NamedKey {
                kid: kid.to_owned(),
                cipher,
            });
        }
        Ok(KeyRing { keys })
    }

    /// The configured keys when `config_value` is set (`PORTOLAN_SECRETS_KEYS`); otherwise the
    /// key file `<data_dir>/secrets.key`, created with one random key (mode 0600) on first
    /// start. Creation is atomic: concurrent starts agree on one key.
    pub fn load_or_create(
        config_value: Option<&SecretString>,
        data_dir: &Path,
    ) -> Result<KeyRing, SealError> {
        if let Some(spec) = config_value {
            return KeyRing::parse(spec.expose_secret());
        }
        let path = data_dir.join(KEY_FILE);
        let file_err = |message: String| SealError::KeyFile {
            path: path.clone(),
            message,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                warn_if_readable_by_others(&path);
                return KeyRing::parse(text.trim());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(format!("cannot read: {e}"))),
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| file_err(format!("cannot create the directory: {e}")))?;
        let spec = Zeroizing::new(format!(
            "{}:{}\n",
            chrono::Utc::now().format("local-%Y%m%d"),
            generate_key_base64().expose_secret()
        ));
        // Written whole to a private temporary file, then linked into place: a link never
        // replaces an existing file, so of two concurrent first starts one wins and the other
        // reads the winner's key.
        let tmp = data_dir.join(format!(".{KEY_FILE}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let written = write_private(&tmp, spec.as_bytes())
            .map_err(|e| file_err(format!("cannot write: {e}")));
        let linked = written.and_then(|()| match std::fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(file_err(format!("cannot create: {e}"))),
        });
        let _ = std::fs::remove_file(&tmp);
        linked?;
        let text = Zeroizing::new(
            std::fs::read_to_string(&path).map_err(|e| file_err(format!("cannot read: {e}")))?,
        );
        tracing::info!(path = %path.display(), "secrets key file in use");
        KeyRing::parse(text.trim())
    }

    /// The id of the primary key (the one new seals use).
    pub fn primary_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.kid.as_str())
    }

    /// Every key id, primary first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// Does the ring hold a key with this id?
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// Encrypts `plaintext` with the primary key and a fresh random 96-bit nonce, binding it
    /// to `aad`. Returns the primary's id and `nonce || ciphertext || tag`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<(String, Vec<u8>), SealError> {
        let key = self.keys.first().ok_or(SealError::Seal)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok((key.kid.clone(), out))
    }

    /// Decrypts what [`KeyRing::seal`] produced with key `kid` and the same `aad`. The
    /// plaintext is wiped from memory when dropped.
    pub fn open(
        &self,
        kid: &str,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_owned()))?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Open)?;
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }

    /// [`KeyRing::open`] for text: fails (as [`SealError::Open`]) when the plaintext is not UTF-8.
    pub fn open_string(
        &self,
        kid: &str,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<SecretString, SealError> {
        let bytes = self.open(kid, sealed, aad)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| SealError::Open)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

/// A new random 256-bit key, base64-encoded (for a `kid:key` entry).
pub fn generate_key_base64() -> SecretString {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(&mut key[..]);
    SecretString::from(STANDARD.encode(&key[..]))
}

/// Creates `path` (which must not exist) readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the secrets key file is readable by other users: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key_entry(kid: &str) -> String {
        format!("{kid}:{}", generate_key_base64().expose_secret())
    }

    #[test]
    fn round_trip() {
        let ring = KeyRing::parse(&key_entry("k1")).unwrap();
        let (kid, sealed) = ring.seal(b"hunter2", b"org|NAME").unwrap();
        assert_eq!(kid, "k1");
        assert_eq!(sealed.len(), NONCE_LEN + b"hunter2".len() + TAG_LEN);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        let plain = ring.open(&kid, &sealed, b"org|NAME").unwrap();
        assert_eq!(plain.as_slice(), b"hunter2");
        let text = ring.open_string(&kid, &sealed, b"org|NAME").unwrap();
        assert_eq!(text.expose_secret(), "hunter2");
        // Two seals of the same value differ (random nonce).
        let (_, again) = ring.seal(b"hunter2", b"org|NAME").unwrap();
        assert_ne!(sealed, again);
        // Empty values round-trip too.
        let (kid, sealed) = ring.seal(b"", b"x").unwrap();
        assert!(ring.open(&kid, &sealed, b"x").unwrap().is_empty());
    }

    #[test]
    fn wrong_aad_fails() {
        let ring = KeyRing::parse(&key_entry("k1")).unwrap();
        let (kid, sealed) = ring.seal(b"value", b"org-a|TOKEN").unwrap();
        assert!(matches!(
            ring.open(&kid, &sealed, b"org-b|TOKEN"),
            Err(SealError::Open)
        ));
        assert!(matches!(
            ring.open(&kid, &sealed, b"org-a|OTHER"),
            Err(SealError::Open)
        ));
    }

    #[test]
    fn tampered_or_truncated_fails() {
        let ring = KeyRing::parse(&key_entry("k1")).unwrap();
        let (kid, sealed) = ring.seal(b"value", b"aad").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(ring.open(&kid, &bad, b"aad"), Err(SealError::Open)),
                "flipping byte {i} must be detected"
            );
        }
        assert!(matches!(
            ring.open(&kid, &sealed[..sealed.len() - 1], b"aad"),
            Err(SealError::Open)
        ));
        assert!(matches!(
            ring.open(&kid, &sealed[..5], b"aad"),
            Err(SealError::Open)
        ));
    }

    #[test]
    fn unknown_kid_fails() {
        let ring = KeyRing::parse(&key_entry("k1")).unwrap();
        let (_, sealed) = ring.seal(b"value", b"aad").unwrap();
        assert!(matches!(
            ring.open("k0", &sealed, b"aad"),
            Err(SealError::UnknownKey(k)) if k == "k0"
        ));
        // The same id with other key material does not open it either.
        let other = KeyRing::parse(&key_entry("k1")).unwrap();
        assert!(matches!(
            other.open("k1", &sealed, b"aad"),
            Err(SealError::Open)
        ));
    }

    #[test]
    fn rotation_keeps_old_keys_readable_and_seals_with_the_primary() {
        let old_entry = key_entry("k1");
        let old = KeyRing::parse(&old_entry).unwrap();
        let (old_kid, sealed) = old.seal(b"value", b"aad").unwrap();

        let rotated = KeyRing::parse(&format!("{},{old_entry}", key_entry("k2"))).unwrap();
        assert_eq!(rotated.primary_kid(), "k2");
        assert_eq!(rotated.kids(), ["k2", "k1"]);
        assert!(rotated.contains("k1") && !rotated.contains("k3"));
        assert_eq!(
            rotated.open(&old_kid, &sealed, b"aad").unwrap().as_slice(),
            b"value"
        );
        let (new_kid, resealed) = rotated.seal(b"value", b"aad").unwrap();
        assert_eq!(new_kid, "k2");
        // The old ring cannot read what the new primary sealed.
        assert!(matches!(
            old.open(&new_kid, &resealed, b"aad"),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn parse_errors_never_echo_key_material() {
        let key = generate_key_base64();
        let short = STANDARD.encode([7u8; 16]);
        let cases = [
            String::new(),
            key.expose_secret().to_owned(),
            format!("k1:{}", &key.expose_secret()[..20]),
            format!("k1:{short}"),
            format!("bad kid:{}", key.expose_secret()),
            format!("k1:{},k1:{}", key.expose_secret(), key.expose_secret()),
            format!("k1:{},", key.expose_secret()),
            format!("k1:!!{}", key.expose_secret()),
        ];
        for spec in cases {
            let err = KeyRing::parse(&spec).expect_err(&format!("case {spec:?} must fail"));
            let message = err.to_string();
            assert!(
                !message.contains(&key.expose_secret()[..8]) && !message.contains(&short[..8]),
                "message leaks the key: {message}"
            );
        }
    }

    #[test]
    fn debug_never_prints_keys() {
        let key = generate_key_base64();
        let ring = KeyRing::parse(&format!("k1:{}", key.expose_secret())).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains("k1"));
        assert!(!debug.contains(&key.expose_secret()[..8]), "{debug}");
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested");
        let first = KeyRing::load_or_create(None, &data).unwrap();
        let path = data.join(KEY_FILE);
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (kid, sealed) = first.seal(b"value", b"aad").unwrap();
        let second = KeyRing::load_or_create(None, &data).unwrap();
        assert_eq!(second.primary_kid(), first.primary_kid());
        assert_eq!(
            second.open(&kid, &sealed, b"aad").unwrap().as_slice(),
            b"value"
        );
        // Only the key file is left behind, no temporary files.
        assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1);
    }

    #[test]
    fn configured_keys_win_over_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SecretString::from(key_entry("configured"));
        let ring = KeyRing::load_or_create(Some(&spec), dir.path()).unwrap();
        assert_eq!(ring.primary_kid(), "configured");
        assert!(!dir.path().join(KEY_FILE).exists());
        let bad = SecretString::from("configured:not-a-key".to_owned());
        assert!(matches!(
            KeyRing::load_or_create(Some(&bad), dir.path()),
            Err(SealError::InvalidSpec(_))
        ));
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let data = data.clone();
                std::thread::spawn(move || KeyRing::load_or_create(None, &data).unwrap())
            })
            .collect();
        let rings: Vec<KeyRing> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let (kid, sealed) = rings[0].seal(b"value", b"aad").unwrap();
        for r in &rings {
            assert_eq!(r.open(&kid, &sealed, b"aad").unwrap().as_slice(), b"value");
        }
    }
}
