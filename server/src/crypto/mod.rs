//! Encryption at rest for what the portal must keep but never show:
//! repository tokens and deploy keys, webhook secrets, and (later) the
//! secrets developers set. The scheme of ../shared/docs/secrets.md:
//!
//! - a **keyring** of master keys (`<key-id>=<base64 of 32 bytes>` per line,
//!   the first active, all usable to decrypt), a file mounted from a
//!   Kubernetes Secret in production, generated 0600 in the data directory
//!   on the embedded default;
//! - a **subkey per app** (HKDF-SHA256 of the master key and the app's id),
//!   so one app's rows are useless under another's key;
//! - **XChaCha20-Poly1305** with a random 192-bit nonce per value, and
//!   associated data binding the value to its app, purpose, name and
//!   version: a ciphertext moved to another row fails to decrypt.
//!
//! A sealed value is stored as one text: `dscloud:v1:<key-id>:<base64 of
//! nonce and ciphertext>`, so rows per key id can be counted by prefix.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

const PREFIX: &str = "dscloud:v1:";
const NONCE_BYTES: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the keyring {path}: {reason}")]
    Keyring { path: String, reason: String },
    #[error("no key {0:?} in the keyring: the value was sealed with a key that is not there")]
    MissingKey(String),
    #[error("a sealed value is not in the form dscloud:v1:<key-id>:<data>")]
    Malformed,
    #[error("a sealed value does not open: it was changed, or moved from another row")]
    Tampered,
}

/// Where a sealed value belongs: decrypting it anywhere else fails.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub app: Uuid,
    /// What the value is: `repository-credentials`, `webhook-secret`, `secret:<env>`.
    pub purpose: &'a str,
    pub name: &'a str,
    pub version: i64,
}

impl Scope<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "dscloud/v1\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            self.app, self.purpose, self.name, self.version
        )
        .into_bytes()
    }
}

struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

pub struct Keyring {
    /// The first one seals; all of them open.
    keys: Vec<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Reads a keyring file: one `<key-id>=<base64 of 32 bytes>` per line,
    /// blank lines and `#` comments allowed, the first key active.
    pub fn parse(text: &str, path: &str) -> Result<Keyring, CryptoError> {
        let refuse = |reason: String| CryptoError::Keyring {
            path: path.to_string(),
            reason,
        };
        let mut keys: Vec<MasterKey> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, encoded) = line
                .split_once('=')
                .ok_or_else(|| refuse(format!("line {}: not <key-id>=<base64>", number + 1)))?;
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
            if !valid_id {
                return Err(refuse(format!(
                    "line {}: a key id is 1 to 64 letters, digits, '-' or '_'",
                    number + 1
                )));
            }
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| refuse(format!("line {}: the key is not base64", number + 1)))?,
            );
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                refuse(format!(
                    "line {}: a key is 32 bytes, this one {}",
                    number + 1,
                    bytes.len()
                ))
            })?;
            if keys.iter().any(|known| known.id == id) {
                return Err(refuse(format!("key id {id:?} appears twice")));
            }
            keys.push(MasterKey {
                id: id.to_string(),
                key: Zeroizing::new(key),
            });
        }
        if keys.is_empty() {
            return Err(refuse("it holds no key".to_string()));
        }
        Ok(Keyring { keys })
    }

    /// Opens the keyring file; with `create`, makes one with a new random
    /// key (mode 0600) when there is none. Returns whether it was created.
    pub fn open_or_create(path: &Path, create: bool) -> Result<(Keyring, bool), CryptoError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Keyring::parse(&text, &shown)?, false)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                let text = format!(
                    "# DSCloud Portal keyring: keep it secret, keep a copy.\n{}\n",
                    new_key_line("k1")
                );
                write_private(path, &text).map_err(|error| CryptoError::Keyring {
                    path: shown.clone(),
                    reason: format!("cannot create it: {error}"),
                })?;
                Ok((Keyring::parse(&text, &shown)?, true))
            }
            Err(error) => Err(CryptoError::Keyring {
                path: shown,
                reason: format!("cannot read it: {error}"),
            }),
        }
    }

    /// The key that seals new values.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.keys.iter().any(|key| key.id == id)
    }

    fn cipher(&self, key_id: &str, app: Uuid) -> Result<XChaCha20Poly1305, CryptoError> {
        let master = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| CryptoError::MissingKey(key_id.to_string()))?;
        let hkdf =
            Hkdf::<Sha256>::new(Some(b"dscloud-portal app subkey v1"), master.key.as_slice());
        let mut subkey = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit: this cannot fail.
        if hkdf.expand(app.as_bytes(), subkey.as_mut_slice()).is_err() {
            return Err(CryptoError::Tampered);
        }
        XChaCha20Poly1305::new_from_slice(subkey.as_slice()).map_err(|_| CryptoError::Tampered)
    }

    /// Seals `plaintext` for `scope` with the active key.
    pub fn seal(&self, scope: &Scope<'_>, plaintext: &[u8]) -> Result<String, CryptoError> {
        let key_id = self.active_id();
        let cipher = self.cipher(key_id, scope.app)?;
        let mut nonce = [0u8; NONCE_BYTES];
        fill_random(&mut nonce);
        let aad = scope.associated_data();
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ciphertext);
        Ok(format!(
            "{PREFIX}{key_id}:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(data)
        ))
    }

    /// Opens a value sealed for `scope`; fails if it was sealed for any
    /// other scope, changed, or sealed with a key no longer here.
    pub fn open(&self, scope: &Scope<'_>, sealed: &str) -> Result<SecretBox<Vec<u8>>, CryptoError> {
        let (key_id, data) = sealed
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or(CryptoError::Malformed)?;
        let data = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(data)
            .map_err(|_| CryptoError::Malformed)?;
        if data.len() < NONCE_BYTES {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = data.split_at(NONCE_BYTES);
        let cipher = self.cipher(key_id, scope.app)?;
        let aad = scope.associated_data();
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        Ok(SecretBox::new(Box::new(plaintext)))
    }

    /// Opens a sealed UTF-8 text.
    pub fn open_text(&self, scope: &Scope<'_>, sealed: &str) -> Result<SecretString, CryptoError> {
        let bytes = self.open(scope, sealed)?;
        let text =
            String::from_utf8(bytes.expose_secret().clone()).map_err(|_| CryptoError::Tampered)?;
        Ok(SecretString::from(text))
    }
}

/// The key id a sealed value names, if it is one.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    sealed
        .strip_prefix(PREFIX)?
        .split_once(':')
        .map(|(id, _)| id)
}

/// A new keyring line with a random key.
pub fn new_key_line(id: &str) -> String {
    let mut key = Zeroizing::new([0u8; 32]);
    fill_random(key.as_mut_slice());
    format!(
        "{id}={}",
        base64::engine::general_purpose::STANDARD.encode(key.as_slice())
    )
}

fn fill_random(bytes: &mut [u8]) {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.fill_bytes(bytes);
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn keyring() -> Keyring {
        Keyring::parse(
            &format!("{}\n{}\n", new_key_line("k2"), new_key_line("k1")),
            "test",
        )
        .unwrap()
    }

    fn scope(app: Uuid) -> Scope<'static> {
        Scope {
            app,
            purpose: "repository-credentials",
            name: "token",
            version: 1,
        }
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let keys = keyring();
        let app = Uuid::now_v7();
        let sealed = keys.seal(&scope(app), b"ghp_secret").unwrap();
        assert!(sealed.starts_with("dscloud:v1:k2:"), "{sealed}");
        assert!(!sealed.contains("ghp_secret"));
        assert_eq!(
            keys.open(&scope(app), &sealed).unwrap().expose_secret(),
            b"ghp_secret"
        );
        // Moved to another app, purpose, name or version: refused.
        for moved in [
            Scope {
                app: Uuid::now_v7(),
                ..scope(app)
            },
            Scope {
                purpose: "webhook-secret",
                ..scope(app)
            },
            Scope {
                name: "ssh-key",
                ..scope(app)
            },
            Scope {
                version: 2,
                ..scope(app)
            },
        ] {
            assert!(matches!(
                keys.open(&moved, &sealed),
                Err(CryptoError::Tampered)
            ));
        }
        // A flipped bit: refused.
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        assert!(keys.open(&scope(app), &changed).is_err());
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let keys = keyring();
        let app = Uuid::now_v7();
        assert_ne!(
            keys.seal(&scope(app), b"same").unwrap(),
            keys.seal(&scope(app), b"same").unwrap()
        );
    }

    #[test]
    fn a_value_sealed_with_a_removed_key_names_it() {
        let app = Uuid::now_v7();
        let old = keyring();
        let sealed = old.seal(&scope(app), b"value").unwrap();
        assert_eq!(key_id_of(&sealed), Some("k2"));
        let without = Keyring::parse(&new_key_line("k3"), "test").unwrap();
        match without.open(&scope(app), &sealed) {
            Err(CryptoError::MissingKey(id)) => assert_eq!(id, "k2"),
            other => panic!("{other:?}"),
        }
        // Rotation: a keyring with the new key first and the old one after
        // opens old values and seals new ones with the new key.
        let rotated = Keyring::parse(
            &format!("{}\n{}", new_key_line("k3"), keyring_line_of(&old, "k2")),
            "test",
        )
        .unwrap();
        assert_eq!(
            rotated.open(&scope(app), &sealed).unwrap().expose_secret(),
            b"value"
        );
        assert_eq!(
            key_id_of(&rotated.seal(&scope(app), b"v").unwrap()),
            Some("k3")
        );
    }

    fn keyring_line_of(keys: &Keyring, id: &str) -> String {
        let key = keys.keys.iter().find(|key| key.id == id).unwrap();
        format!(
            "{id}={}",
            base64::engine::general_purpose::STANDARD.encode(key.key.as_slice())
        )
    }

    #[test]
    fn a_bad_keyring_says_what_is_wrong() {
        let error = |text: &str| Keyring::parse(text, "keyring").unwrap_err().to_string();
        assert!(error("").contains("holds no key"));
        assert!(error("k1").contains("line 1: not <key-id>=<base64>"));
        assert!(error("k1=!!!").contains("not base64"));
        assert!(error("k1=AAAA").contains("32 bytes"));
        assert!(error("bad id=AAAA").contains("key id"));
        let line = new_key_line("k1");
        assert!(error(&format!("{line}\n{line}")).contains("twice"));
    }

    #[test]
    fn the_embedded_keyring_is_created_private_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let (first, created) = Keyring::open_or_create(&path, true).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = Keyring::open_or_create(&path, true).unwrap();
        assert!(!created);
        let app = Uuid::now_v7();
        let sealed = first.seal(&scope(app), b"x").unwrap();
        assert!(again.open(&scope(app), &sealed).is_ok());
        assert!(Keyring::open_or_create(&dir.path().join("none"), false).is_err());
    }
}
