//! The raw RSA keyring (`framework/raw-rsa-keyring.md`), byte-compatible with
//! the official SDKs.
//!
//! # Timing advisory
//! The `rsa` crate's private-key operation is not constant-time
//! (RUSTSEC-2023-0071, the "Marvin" attack). An attacker who can submit many
//! chosen ciphertexts to a decrypting service *and* time it precisely might
//! recover the plaintext of one RSA ciphertext. What this keyring does:
//! decryption uses RSA blinding with fresh randomness; every failure (padding,
//! length, wrong key) collapses into one opaque error with no detail; and the
//! README recommends OAEP over PKCS#1 v1.5 and keeping RSA decryption away
//! from network-facing oracles (use the KMS proxy instead).

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

use super::{BoxFuture, Keyring};
use crate::crypto::rustcrypto::rand_core_compat::OsRng;
use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use crate::secret::SecretBytes;

/// RSA padding scheme of a raw RSA keyring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RsaPadding {
    /// PKCS#1 v1.5 (legacy).
    Pkcs1,
    /// OAEP with SHA-1 and MGF1-SHA-1.
    OaepSha1,
    /// OAEP with SHA-256 and MGF1-SHA-256.
    OaepSha256,
    /// OAEP with SHA-384 and MGF1-SHA-384.
    OaepSha384,
    /// OAEP with SHA-512 and MGF1-SHA-512.
    OaepSha512,
}

impl RsaPadding {
    /// Parse `pkcs1`, `oaep-sha1`, `oaep-sha256`, `oaep-sha384` or `oaep-sha512`.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "pkcs1" => Self::Pkcs1,
            "oaep-sha1" => Self::OaepSha1,
            "oaep-sha256" => Self::OaepSha256,
            "oaep-sha384" => Self::OaepSha384,
            "oaep-sha512" => Self::OaepSha512,
            _ => return None,
        })
    }
}

/// Wraps data keys with RSA under a PEM key pair (or only a public key, to
/// encrypt, or only a private key, from which the public key is derived).
pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    public: RsaPublicKey,
    private: Option<RsaPrivateKey>,
}

impl core::fmt::Debug for RawRsaKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawRsaKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("padding", &self.padding)
            .field("private", &self.private.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

fn parse_private(pem: &str) -> Option<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs8_pem(pem)
        .ok()
        .or_else(|| RsaPrivateKey::from_pkcs1_pem(pem).ok())
}

fn parse_public(pem: &str) -> Option<RsaPublicKey> {
    RsaPublicKey::from_public_key_pem(pem)
        .ok()
        .or_else(|| RsaPublicKey::from_pkcs1_pem(pem).ok())
}

impl RawRsaKeyring {
    /// A keyring from a PEM document holding a private key (PKCS#8 or PKCS#1)
    /// or a public key (SPKI or PKCS#1). A public-only keyring can only encrypt.
    pub fn from_pem(namespace: &str, name: &str, pem: &str, padding: RsaPadding) -> Result<Self> {
        if namespace == "aws-kms" {
            return Err(Error::InvalidArgument(
                "the key namespace \"aws-kms\" is reserved".into(),
            ));
        }
        let (public, private) = if let Some(sk) = parse_private(pem) {
            (sk.to_public_key(), Some(sk))
        } else if let Some(pk) = parse_public(pem) {
            (pk, None)
        } else {
            return Err(Error::InvalidKey("not a PEM RSA private or public key"));
        };
        Ok(Self {
            namespace: namespace.into(),
            name: name.into(),
            padding,
            public,
            private,
        })
    }

    fn encrypt_key(&self, key: &[u8]) -> Result<Vec<u8>> {
        let mut rng = OsRng;
        let r = match self.padding {
            RsaPadding::Pkcs1 => self.public.encrypt(&mut rng, Pkcs1v15Encrypt, key),
            RsaPadding::OaepSha1 => self
                .public
                .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), key),
            RsaPadding::OaepSha256 => {
                self.public
                    .encrypt(&mut rng, Oaep::new::<sha2::Sha256>(), key)
            }
            RsaPadding::OaepSha384 => {
                self.public
                    .encrypt(&mut rng, Oaep::new::<sha2::Sha384>(), key)
            }
            RsaPadding::OaepSha512 => {
                self.public
                    .encrypt(&mut rng, Oaep::new::<sha2::Sha512>(), key)
            }
        };
        r.map_err(|_| Error::Keyring("RSA encryption of the data key failed".into()))
    }

    fn decrypt_key(&self, sk: &RsaPrivateKey, ct: &[u8]) -> Option<SecretBytes> {
        let mut rng = OsRng;
        let r = match self.padding {
            RsaPadding::Pkcs1 => sk.decrypt_blinded(&mut rng, Pkcs1v15Encrypt, ct),
            RsaPadding::OaepSha1 => sk.decrypt_blinded(&mut rng, Oaep::new::<sha1::Sha1>(), ct),
            RsaPadding::OaepSha256 => sk.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha256>(), ct),
            RsaPadding::OaepSha384 => sk.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha384>(), ct),
            RsaPadding::OaepSha512 => sk.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha512>(), ct),
        };
        r.ok().map(SecretBytes::new)
    }
}

impl Keyring for RawRsaKeyring {
    fn encrypted_data_key_shapes(
        &self,
        _suite: crate::AlgorithmSuite,
    ) -> Option<Vec<super::EdkShape>> {
        use rsa::traits::PublicKeyParts;
        Some(vec![super::EdkShape {
            provider_id: self.namespace.len(),
            provider_info: self.name.len(),
            ciphertext: self.public.size(),
        }])
    }

    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            if materials.plaintext_data_key.is_none() {
                let mut k = SecretBytes::zeroed(materials.suite.key_len());
                getrandom::getrandom(k.expose_mut())
                    .map_err(|_| Error::Crypto("the system random source failed"))?;
                materials.plaintext_data_key = Some(k);
            }
            let key = materials
                .plaintext_data_key
                .as_ref()
                .map(|k| k.expose())
                .unwrap_or(&[]);
            let ct = self.encrypt_key(key)?;
            materials.encrypted_data_keys.push(EncryptedDataKey {
                provider_id: self.namespace.as_bytes().to_vec(),
                provider_info: self.name.as_bytes().to_vec(),
                ciphertext: ct,
            });
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        mut materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            let Some(sk) = self.private.as_ref() else {
                return Ok(materials);
            };
            if materials.plaintext_data_key.is_some() {
                return Ok(materials);
            }
            let mut failed = false;
            for edk in edks {
                if edk.provider_id != self.namespace.as_bytes()
                    || edk.provider_info != self.name.as_bytes()
                {
                    continue;
                }
                match self.decrypt_key(sk, &edk.ciphertext) {
                    Some(k) if k.len() == materials.suite.key_len() => {
                        materials.plaintext_data_key = Some(k);
                        return Ok(materials);
                    }
                    _ => failed = true,
                }
            }
            if failed {
                return Err(Error::Keyring(format!(
                    "raw RSA key {}/{} could not unwrap its encrypted data key",
                    self.namespace, self.name
                )));
            }
            Ok(materials)
        })
    }
}
