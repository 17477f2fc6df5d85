//! A deterministic crypto provider, **for tests only**: it makes two
//! encryptions with the same inputs produce the same bytes, so that two
//! backends can be compared byte for byte. Its "randomness" is
//! SHA-256(seed || counter) and its signing keys come from that stream;
//! never use it for real messages.

use std::sync::{Arc, Mutex};

#[cfg(feature = "ecdsa")]
use ecdsa::signature::DigestSigner;
#[cfg(feature = "ecdsa")]
use sha2::Sha384;
use sha2::{Digest, Sha256};

use crate::crypto::{AeadKey, CryptoProvider, Signer, Verifier};
use crate::error::{Error, Result};
use crate::suite::{Curve, HashAlg};

/// A provider whose random bytes and signing keys derive from a seed.
pub struct SeededProvider {
    inner: Arc<dyn CryptoProvider>,
    seed: Vec<u8>,
    counter: Mutex<u64>,
}

impl core::fmt::Debug for SeededProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SeededProvider").finish_non_exhaustive()
    }
}

impl SeededProvider {
    /// Wrap `inner` (AES-GCM, HKDF and verification go to it).
    pub fn new(inner: Arc<dyn CryptoProvider>, seed: &[u8]) -> Self {
        Self {
            inner,
            seed: seed.to_vec(),
            counter: Mutex::new(0),
        }
    }

    fn fill(&self, buf: &mut [u8]) {
        let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(&self.seed)
                .chain_update(c.to_be_bytes())
                .finalize();
            *c += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

#[cfg(feature = "ecdsa")]
enum Key {
    P256(p256::ecdsa::SigningKey, Sha256),
    P384(p384::ecdsa::SigningKey, Sha384),
}

#[cfg(feature = "ecdsa")]
struct DeterministicSigner(Key);

#[cfg(feature = "ecdsa")]
impl Signer for DeterministicSigner {
    fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Key::P256(_, h) => h.update(data),
            Key::P384(_, h) => h.update(data),
        }
    }
    fn public_key(&self) -> Vec<u8> {
        match &self.0 {
            Key::P256(k, _) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
            Key::P384(k, _) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
        }
    }
    fn sign(self: Box<Self>) -> Result<Vec<u8>> {
        let bad = |_| Error::Crypto("ECDSA signing failed");
        Ok(match self.0 {
            Key::P256(k, h) => {
                let s: p256::ecdsa::Signature = k.try_sign_digest(h).map_err(bad)?;
                s.normalize_s().unwrap_or(s).to_der().as_bytes().to_vec()
            }
            Key::P384(k, h) => {
                let s: p384::ecdsa::Signature = k.try_sign_digest(h).map_err(bad)?;
                s.normalize_s().unwrap_or(s).to_der().as_bytes().to_vec()
            }
        })
    }
}

impl CryptoProvider for SeededProvider {
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>> {
        self.inner.aead_key(key)
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<()> {
        self.inner.hkdf(hash, ikm, salt, info, okm)
    }
    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        self.fill(buf);
        Ok(())
    }
    #[cfg(not(feature = "ecdsa"))]
    fn signer(&self, _curve: Curve) -> Result<Box<dyn Signer>> {
        Err(Error::Crypto("built without ECDSA"))
    }
    #[cfg(feature = "ecdsa")]
    fn signer(&self, curve: Curve) -> Result<Box<dyn Signer>> {
        // Retry until the bytes are a valid scalar (almost always at once).
        for _ in 0..16 {
            let mut b = [0u8; 48];
            let key = match curve {
                Curve::P256 => {
                    self.fill(&mut b[..32]);
                    p256::ecdsa::SigningKey::from_slice(&b[..32])
                        .ok()
                        .map(|k| Key::P256(k, Sha256::new()))
                }
                Curve::P384 => {
                    self.fill(&mut b);
                    p384::ecdsa::SigningKey::from_slice(&b)
                        .ok()
                        .map(|k| Key::P384(k, Sha384::new()))
                }
            };
            if let Some(k) = key {
                return Ok(Box::new(DeterministicSigner(k)));
            }
        }
        Err(Error::Crypto("no valid signing key"))
    }
    fn verifier(&self, curve: Curve, public_key: &[u8]) -> Result<Box<dyn Verifier>> {
        self.inner.verifier(curve, public_key)
    }
}
