//! Secrets the store must keep usable (a webhook's signing secret: hoist signs with it) are
//! kept sealed at rest: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) under a
//! 256-bit key that is not in the database, a random nonce per value, and the hook's URL as
//! associated data (a sealed secret copied onto another hook does not open). A copy of the
//! database alone — a backup, a file attached to a bug report, a reader of its tables —
//! holds no usable secret.
//!
//! Where the key is: for SQLite, a key file beside the database (`state.db.key`, 0600,
//! created the first time a secret is sealed); for PostgreSQL, whose controllers share the
//! database, every controller is given the same key (`HOIST_SECRET_KEY`, or a file named by
//! `HOIST_SECRET_KEY_FILE`), read by the session. Stored as
//! `sealed:v1:<nonce hex><ciphertext+tag hex>`; a value without that prefix was stored by an
//! older hoist in clear and is sealed when a store opens with its key (`open` still reads
//! it until then).

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hoist_core::webhook_policy::hex;

use crate::error::{Error, Result};
use crate::ports::webhook_store::{HookSecret, NewWebhook, Webhook};

/// Marks a sealed value, and its format.
pub const SEALED_PREFIX: &str = "sealed:v1:";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The environment variables a PostgreSQL store's key comes from (read by the session).
pub const KEY_VARIABLE: &str = "HOIST_SECRET_KEY";
pub const KEY_FILE_VARIABLE: &str = "HOIST_SECRET_KEY_FILE";

/// A 256-bit key. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn generate() -> Result<Self> {
        let mut key = [0; KEY_LEN];
        getrandom::fill(&mut key)
            .map_err(|error| Error::internal("cannot make a key").cause(error))?;
        Ok(Self(key))
    }

    /// 64 hex digits (surrounding blanks ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = unhex(text.trim())
            .filter(|bytes| bytes.len() == KEY_LEN)
            .ok_or_else(|| {
                Error::failed("the secret key is not 64 hex digits (32 bytes)")
                    .hint("make one with `openssl rand -hex 32`")
            })?;
        let mut key = [0; KEY_LEN];
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The key in the file at `path` (as written by `create_file`).
    pub fn read_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::failed(format!(
                "cannot read the secret key file `{}`",
                path.display()
            ))
            .cause(error)
        })?;
        Self::from_hex(&text)
            .map_err(|error| error.context(format!("in the key file `{}`", path.display())))
    }

    /// The key at `path`, made (0600) if there is none. Two processes making it at once end
    /// with the same key: the file appears whole (linked into place), and the loser reads it.
    pub fn read_or_create_file(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::read_file(path);
        }
        let key = Self::generate()?;
        let mut draft = path.as_os_str().to_owned();
        draft.push(format!(".{}.tmp", std::process::id()));
        let draft = PathBuf::from(draft);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&draft)
            .and_then(|mut file| {
                file.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
                file.sync_all()
            });
        let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
        let _ = std::fs::remove_file(&draft);
        match linked {
            Ok(()) => Ok(key),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read_file(path)
            }
            Err(error) => Err(Error::io("write the secret key file", path, error)),
        }
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(&self.0)
            .map_err(|error| Error::internal("cannot use the secret key").cause(error))
    }
}

/// Where a store's key comes from, loaded when first needed.
#[derive(Debug)]
pub struct SecretKeeper {
    source: KeySource,
    loaded: OnceLock<SecretKey>,
}

#[derive(Debug)]
enum KeySource {
    /// A key file beside a SQLite store.
    File(PathBuf),
    Given,
    /// A PostgreSQL store opened without `HOIST_SECRET_KEY`.
    Missing,
}

impl SecretKeeper {
    pub fn key_file(path: PathBuf) -> Self {
        Self {
            source: KeySource::File(path),
            loaded: OnceLock::new(),
        }
    }

    pub fn given(key: SecretKey) -> Self {
        Self {
            source: KeySource::Given,
            loaded: OnceLock::from(key),
        }
    }

    pub fn missing() -> Self {
        Self {
            source: KeySource::Missing,
            loaded: OnceLock::new(),
        }
    }

    /// Whether a key is at hand without making one.
    pub fn has_key(&self) -> bool {
        match &self.source {
            KeySource::File(path) => path.exists(),
            KeySource::Given => true,
            KeySource::Missing => false,
        }
    }

    /// The key; for sealing, a key file is made if there is none.
    fn key(&self, to_seal: bool) -> Result<&SecretKey> {
        if let Some(key) = self.loaded.get() {
            return Ok(key);
        }
        let key = match &self.source {
            KeySource::File(path) if to_seal => SecretKey::read_or_create_file(path)?,
            KeySource::File(path) => SecretKey::read_file(path).map_err(|error| {
                error.context("the webhooks' signing secrets are sealed, and their key is gone")
                    .hint(format!(
                        "restore `{}` from where the store was copied, or remove and add the webhooks again",
                        path.display()
                    ))
            })?,
            KeySource::Given | KeySource::Missing => return Err(missing_key()),
        };
        let _ = self.loaded.set(key);
        self.loaded
            .get()
            .ok_or_else(|| Error::internal("the secret key was not kept"))
    }

    /// `plaintext` sealed, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String> {
        let cipher = self.key(true)?.cipher()?;
        let mut nonce = [0; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|error| Error::internal("cannot make a nonce").cause(error))?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("cannot seal a secret"))?;
        Ok(format!("{SEALED_PREFIX}{}{}", hex(&nonce), hex(&sealed)))
    }

    /// The secret in `stored`: opened if sealed, as is if an older hoist stored it in clear.
    pub fn open(&self, stored: &str, context: &str) -> Result<String> {
        let Some(body) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let unreadable = || Error::failed("a sealed secret in the store is damaged");
        let bytes = unhex(body).ok_or_else(unreadable)?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| unreadable())?;
        let opened = self
            .key(false)?
            .cipher()?
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::failed("a sealed secret does not open with this key").hint(format!(
                    "every controller of a shared store needs the same `{KEY_VARIABLE}`; or remove and add the webhook again"
                ))
            })?;
        String::from_utf8(opened).map_err(|_| unreadable())
    }
}

impl SecretKeeper {
    /// `hook` with its secret sealed, bound to its URL: what the store writes.
    pub fn seal_hook(&self, hook: &NewWebhook) -> Result<NewWebhook> {
        let sealed = self.seal(hook.secret.expose(), &hook.url.to_string())?;
        Ok(NewWebhook {
            secret: HookSecret::new(sealed),
            ..hook.clone()
        })
    }

    /// `hook` as read from the store, with its secret opened.
    pub fn open_hook(&self, mut hook: Webhook) -> Result<Webhook> {
        let secret = self
            .open(hook.secret.expose(), &hook.url.to_string())
            .map_err(|error| error.context(format!("webhook {}'s signing secret", hook.id)))?;
        hook.secret = HookSecret::new(secret);
        Ok(hook)
    }
}

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

fn missing_key() -> Error {
    Error::failed(format!(
        "this store keeps the webhooks' signing secrets sealed, and hoist was given no key (`{KEY_VARIABLE}`)"
    ))
    .hint(format!(
        "make one key once (`openssl rand -hex 32`) and give the same one to every `hoist` and `hoist serve` using this database: `export {KEY_VARIABLE}=…`, or `{KEY_FILE_VARIABLE}=PATH` to a 0600 file holding it"
    ))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn seals_and_opens_bound_to_the_context() {
        let keeper = SecretKeeper::given(SecretKey::generate().unwrap());
        let sealed = keeper.seal("hook-secret-1234567", "http://a/").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("hook-secret"));
        assert_ne!(
            sealed,
            keeper.seal("hook-secret-1234567", "http://a/").unwrap()
        );
        assert_eq!(
            keeper.open(&sealed, "http://a/").unwrap(),
            "hook-secret-1234567"
        );
        assert!(keeper.open(&sealed, "http://b/").is_err(), "another hook's");
        let other = SecretKeeper::given(SecretKey::generate().unwrap());
        assert!(other.open(&sealed, "http://a/").is_err(), "another key");
        assert_eq!(keeper.open("legacy-clear", "x").unwrap(), "legacy-clear");
        assert!(keeper.open("sealed:v1:zz", "x").is_err());
    }

    #[test]
    fn a_key_file_is_made_private_once_and_read_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db.key");
        let keeper = SecretKeeper::key_file(path.clone());
        assert!(!keeper.has_key());
        let sealed = keeper.seal("hook-secret-1234567", "u").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = SecretKeeper::key_file(path.clone());
        assert_eq!(again.open(&sealed, "u").unwrap(), "hook-secret-1234567");
        std::fs::remove_file(&path).unwrap();
        let error = SecretKeeper::key_file(path).open(&sealed, "u").unwrap_err();
        assert!(error.to_string().contains("key is gone"), "{error}");
    }

    #[test]
    fn a_missing_key_says_how_to_give_one() {
        let error = SecretKeeper::missing().seal("x", "u").unwrap_err();
        assert!(error.message.contains(KEY_VARIABLE), "{error}");
        assert!(error.hints[0].contains("openssl rand -hex 32"));
        assert!(SecretKey::from_hex("abc").is_err());
        let key = SecretKey::generate().unwrap();
        assert_eq!(
            SecretKey::from_hex(&format!(" {}\n", key.to_hex())).unwrap(),
            key
        );
    }
}
