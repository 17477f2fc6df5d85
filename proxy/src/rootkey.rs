//! The root key: every piece of key material and every access-key secret is
//! sealed under it (AES-256-GCM, random 96-bit nonce, AAD naming what is
//! sealed). It comes from a file, an environment variable or a passphrase
//! stretched with Argon2id; without it the proxy does not start.
//!
//! Lose the root key and every key in the store, and every ciphertext made
//! under them, is gone for good, as with a lost HSM.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_envelope_core::SecretBytes;
use zeroize::Zeroizing;

use crate::config::{RootKeyConfig, RootKeySource};
use crate::store::Store;

const CHECK_AAD: &[u8] = b"kms-proxy/root-key-check/v1";
const META_CHECK: &str = "root_key_check";
const META_KDF: &str = "root_key_kdf";
const META_SALT: &str = "root_key_salt";
/// Argon2id parameters used for new stores: 64 MiB, 3 passes, 1 lane.
const KDF_PARAMS: (u32, u32, u32) = (64 * 1024, 3, 1);

/// Why the root key could not be had.
#[derive(Debug)]
pub struct RootKeyError(pub String);

impl fmt::Display for RootKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "root key: {}", self.0)
    }
}

impl std::error::Error for RootKeyError {}

/// The root key. Its bytes are zeroized on drop and never printed.
pub struct RootKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

/// Fill a buffer from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    // The OS generator failing is not something the service can recover from.
    getrandom::getrandom(buf).expect("the operating system's random generator failed");
}

impl RootKey {
    /// From 32 secret bytes.
    pub fn from_bytes(bytes: &SecretBytes) -> Result<Self, RootKeyError> {
        if bytes.len() != 32 {
            return Err(RootKeyError(format!(
                "must be 32 bytes, got {}",
                bytes.len()
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(bytes.expose())
            .map_err(|_| RootKeyError("bad key length".into()))?;
        Ok(Self { cipher })
    }

    /// From 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, RootKeyError> {
        let mut buf = SecretBytes::zeroed(32);
        let t = text.trim();
        if t.len() != 64 {
            return Err(RootKeyError("must be 64 hex characters".into()));
        }
        hex::decode_to_slice(t, buf.expose_mut())
            .map_err(|_| RootKeyError("must be 64 hex characters".into()))?;
        Self::from_bytes(&buf)
    }

    /// A new random key and its hex form (to be written or shown once).
    pub fn generate() -> (Self, Zeroizing<String>) {
        let mut buf = SecretBytes::zeroed(32);
        random_bytes(buf.expose_mut());
        let hex = Zeroizing::new(hex::encode(buf.expose()));
        // 32 bytes always make a key.
        let key = Self::from_bytes(&buf).expect("32 bytes");
        (key, hex)
    }

    /// Stretch a passphrase with Argon2id.
    pub fn from_passphrase(
        passphrase: &[u8],
        salt: &[u8],
        (m, t, p): (u32, u32, u32),
    ) -> Result<Self, RootKeyError> {
        let params = argon2::Params::new(m, t, p, Some(32))
            .map_err(|e| RootKeyError(format!("argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = SecretBytes::zeroed(32);
        argon
            .hash_password_into(passphrase, salt, out.expose_mut())
            .map_err(|e| RootKeyError(format!("argon2: {e}")))?;
        Self::from_bytes(&out)
    }

    /// Seal `plaintext`, binding `aad`: nonce || ciphertext || tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        random_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Open what [`seal`](Self::seal) made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<SecretBytes> {
        if sealed.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .ok()
            .map(SecretBytes::new)
    }
}

fn passphrase(cfg: &RootKeyConfig) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
    if let Some(p) = &cfg.passphrase_file {
        let mut bytes = Zeroizing::new(
            std::fs::read(p).map_err(|e| RootKeyError(format!("{}: {e}", p.display())))?,
        );
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        return non_empty(bytes);
    }
    let v = std::env::var(&cfg.passphrase_env)
        .map_err(|_| RootKeyError(format!("set {} to the passphrase", cfg.passphrase_env)))?;
    non_empty(Zeroizing::new(v.into_bytes()))
}

fn non_empty(p: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
    if p.len() < 12 {
        return Err(RootKeyError(
            "the passphrase must be at least 12 bytes".into(),
        ));
    }
    Ok(p)
}

fn parse_kdf(text: &[u8]) -> Option<(u32, u32, u32)> {
    let s = std::str::from_utf8(text).ok()?;
    let mut parts = s.split(';');
    if parts.next()? != "argon2id" {
        return None;
    }
    let mut get = |name: &str| -> Option<u32> { parts.next()?.strip_prefix(name)?.parse().ok() };
    Some((get("m=")?, get("t=")?, get("p=")?))
}

fn write_new_key_file(path: &Path, hex: &str) -> Result<(), RootKeyError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| RootKeyError(format!("{}: {e}", path.display())))?;
    f.write_all(hex.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| RootKeyError(format!("{}: {e}", path.display())))
}

/// For `init`: get or make the root key, and record in the fresh store what
/// is needed to recognise it (and, for a passphrase, to derive it again).
/// Returns the key and, for the `env` source when the variable was unset, the
/// hex of a new key that the operator must keep (shown once).
pub fn init(
    cfg: &RootKeyConfig,
    store: &dyn Store,
) -> Result<(RootKey, Option<Zeroizing<String>>), RootKeyError> {
    let (key, shown) = match cfg.source {
        RootKeySource::File => {
            if cfg.file.exists() {
                let text = Zeroizing::new(
                    std::fs::read_to_string(&cfg.file)
                        .map_err(|e| RootKeyError(format!("{}: {e}", cfg.file.display())))?,
                );
                (RootKey::from_hex(&text)?, None)
            } else {
                let (key, hex) = RootKey::generate();
                write_new_key_file(&cfg.file, &hex)?;
                (key, None)
            }
        }
        RootKeySource::Env => match std::env::var(&cfg.env) {
            Ok(v) => (RootKey::from_hex(&Zeroizing::new(v))?, None),
            Err(_) => {
                let (key, hex) = RootKey::generate();
                (key, Some(hex))
            }
        },
        RootKeySource::Passphrase => {
            let pass = passphrase(cfg)?;
            let mut salt = [0u8; 16];
            random_bytes(&mut salt);
            let (m, t, p) = KDF_PARAMS;
            let key = RootKey::from_passphrase(&pass, &salt, KDF_PARAMS)?;
            let meta = |n: &str, v: &[u8]| {
                store
                    .meta_put(n, v)
                    .map_err(|e| RootKeyError(format!("store: {e}")))
            };
            meta(META_KDF, format!("argon2id;m={m};t={t};p={p}").as_bytes())?;
            meta(META_SALT, &salt)?;
            (key, None)
        }
    };
    store
        .meta_put(META_CHECK, &key.seal(CHECK_AAD, b"kms-proxy root key"))
        .map_err(|e| RootKeyError(format!("store: {e}")))?;
    Ok((key, shown))
}

/// For `serve` and admin commands: load the root key and check it against
/// the store. Refuses when it is missing or is not the store's key.
pub fn load(cfg: &RootKeyConfig, store: &dyn Store) -> Result<RootKey, RootKeyError> {
    let key = match cfg.source {
        RootKeySource::File => {
            let text =
                Zeroizing::new(std::fs::read_to_string(&cfg.file).map_err(|e| {
                    RootKeyError(format!("cannot read {}: {e}", cfg.file.display()))
                })?);
            RootKey::from_hex(&text)?
        }
        RootKeySource::Env => {
            let v = Zeroizing::new(
                std::env::var(&cfg.env)
                    .map_err(|_| RootKeyError(format!("{} is not set", cfg.env)))?,
            );
            RootKey::from_hex(&v)?
        }
        RootKeySource::Passphrase => {
            let get = |n: &str| {
                store
                    .meta_get(n)
                    .map_err(|e| RootKeyError(format!("store: {e}")))?
                    .ok_or_else(|| {
                        RootKeyError("the store was not initialised with a passphrase".into())
                    })
            };
            let params = parse_kdf(&get(META_KDF)?)
                .ok_or_else(|| RootKeyError("unreadable KDF parameters in the store".into()))?;
            RootKey::from_passphrase(&passphrase(cfg)?, &get(META_SALT)?, params)?
        }
    };
    let check = store
        .meta_get(META_CHECK)
        .map_err(|e| RootKeyError(format!("store: {e}")))?
        .ok_or_else(|| RootKeyError("the store has no root-key check value".into()))?;
    if key.open(CHECK_AAD, &check).is_none() {
        return Err(RootKeyError(
            "this is not the root key of this store".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn seal_binds_aad_and_key() {
        let (k, hex) = RootKey::generate();
        let sealed = k.seal(b"a", b"secret");
        assert_eq!(k.open(b"a", &sealed).unwrap().expose(), b"secret");
        assert!(k.open(b"b", &sealed).is_none());
        let (other, _) = RootKey::generate();
        assert!(other.open(b"a", &sealed).is_none());
        assert_eq!(
            RootKey::from_hex(&hex)
                .unwrap()
                .open(b"a", &sealed)
                .unwrap()
                .expose(),
            b"secret"
        );
        assert_eq!(format!("{k:?}"), "RootKey([REDACTED])");
        assert!(RootKey::from_hex("abcd").is_err());
    }

    #[test]
    fn file_init_then_load_and_wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::in_memory().unwrap();
        let cfg = RootKeyConfig {
            file: dir.path().join("root"),
            ..RootKeyConfig::default()
        };
        init(&cfg, &store).unwrap();
        load(&cfg, &store).unwrap();
        std::fs::write(&cfg.file, hex::encode([7u8; 32])).unwrap();
        assert!(load(&cfg, &store)
            .unwrap_err()
            .0
            .contains("not the root key"));
        std::fs::remove_file(&cfg.file).unwrap();
        assert!(load(&cfg, &store).is_err());
    }

    #[test]
    fn argon2id_is_deterministic_per_salt() {
        let small = (64, 1, 1);
        let a =
            RootKey::from_passphrase(b"correct horse battery", b"saltsaltsaltsalt", small).unwrap();
        let b =
            RootKey::from_passphrase(b"correct horse battery", b"saltsaltsaltsalt", small).unwrap();
        let c =
            RootKey::from_passphrase(b"correct horse battery", b"othersaltothersa", small).unwrap();
        let sealed = a.seal(b"x", b"y");
        assert!(b.open(b"x", &sealed).is_some());
        assert!(c.open(b"x", &sealed).is_none());
        assert_eq!(parse_kdf(b"argon2id;m=65536;t=3;p=1"), Some((65536, 3, 1)));
        assert_eq!(parse_kdf(b"scrypt;m=1"), None);
    }
}
