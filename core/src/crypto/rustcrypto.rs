//! The RustCrypto backend: `aes-gcm`, `hkdf`, `sha2`, `p256`/`p384`, `getrandom`.
// generic-array 0.14 (used by aes-gcm 0.10) deprecates its own constructors in favour of 1.x,
// which the aead 0.5 traits do not accept yet.
#![allow(deprecated)]

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
#[cfg(feature = "ecdsa")]
use ecdsa::signature::DigestVerifier;
#[cfg(feature = "ecdsa")]
use ecdsa::signature::RandomizedDigestSigner;
#[cfg(feature = "ecdsa")]
use sha2::Digest;
use sha2::{Sha256, Sha384, Sha512};

use super::{AeadKey, AuthError, CryptoProvider, Signer, Verifier};
use crate::error::{Error, Result};
use crate::suite::{Curve, HashAlg, IV_LEN, TAG_LEN};

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, U12>;

/// The pure-Rust backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

enum Gcm {
    A128(Aes128Gcm),
    A192(Aes192Gcm),
    A256(Aes256Gcm),
}

struct RcAead(Gcm);

macro_rules! with_gcm {
    ($self:expr, $c:ident => $body:expr) => {
        match &$self.0 {
            Gcm::A128($c) => $body,
            Gcm::A192($c) => $body,
            Gcm::A256($c) => $body,
        }
    };
}

impl AeadKey for RcAead {
    fn seal_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let nonce = GenericArray::from_slice(iv);
        let tag = with_gcm!(self, c => c.encrypt_in_place_detached(nonce, aad, buf))
            .map_err(|_| Error::Crypto("AES-GCM encryption failed"))?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> core::result::Result<(), AuthError> {
        let nonce = GenericArray::from_slice(iv);
        let tag = GenericArray::from_slice(tag);
        with_gcm!(self, c => c.decrypt_in_place_detached(nonce, aad, buf, tag))
            .map_err(|_| AuthError)
    }
}

#[cfg(feature = "ecdsa")]
enum SignerState {
    P256(p256::ecdsa::SigningKey, Sha256),
    P384(p384::ecdsa::SigningKey, Sha384),
}

#[cfg(feature = "ecdsa")]
struct RcSigner(SignerState);

#[cfg(feature = "ecdsa")]
impl Signer for RcSigner {
    fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            SignerState::P256(_, h) => h.update(data),
            SignerState::P384(_, h) => h.update(data),
        }
    }

    fn public_key(&self) -> Vec<u8> {
        match &self.0 {
            SignerState::P256(k, _) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
            SignerState::P384(k, _) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// Signs with a fresh random nonce until the DER signature has its
    /// largest length (as the official SDKs do), so that every footer of a
    /// suite has the same length and message lengths are exact.
    fn sign(self: Box<Self>) -> Result<Vec<u8>> {
        let mut rng = rand_core_compat::OsRng;
        for _ in 0..256 {
            let der = match &self.0 {
                SignerState::P256(k, h) => {
                    let sig: p256::ecdsa::Signature = k
                        .try_sign_digest_with_rng(&mut rng, h.clone())
                        .map_err(|_| Error::Crypto("ECDSA signing failed"))?;
                    let sig = sig.normalize_s().unwrap_or(sig);
                    sig.to_der().as_bytes().to_vec()
                }
                SignerState::P384(k, h) => {
                    let sig: p384::ecdsa::Signature = k
                        .try_sign_digest_with_rng(&mut rng, h.clone())
                        .map_err(|_| Error::Crypto("ECDSA signing failed"))?;
                    let sig = sig.normalize_s().unwrap_or(sig);
                    sig.to_der().as_bytes().to_vec()
                }
            };
            let want = match self.0 {
                SignerState::P256(..) => SIG_LEN_P256,
                SignerState::P384(..) => SIG_LEN_P384,
            };
            if der.len() == want {
                return Ok(der);
            }
        }
        Err(Error::Crypto(
            "could not produce a full-length ECDSA signature",
        ))
    }
}

/// DER length of a low-s P-256 signature whose r has its top bit set.
pub const SIG_LEN_P256: usize = 71;
/// DER length of a low-s P-384 signature whose r has its top bit set.
pub const SIG_LEN_P384: usize = 103;

#[cfg(feature = "ecdsa")]
enum VerifierState {
    P256(p256::ecdsa::VerifyingKey, Sha256),
    P384(p384::ecdsa::VerifyingKey, Sha384),
}

#[cfg(feature = "ecdsa")]
struct RcVerifier(VerifierState);

#[cfg(feature = "ecdsa")]
impl Verifier for RcVerifier {
    fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            VerifierState::P256(_, h) => h.update(data),
            VerifierState::P384(_, h) => h.update(data),
        }
    }

    fn verify(self: Box<Self>, der: &[u8]) -> Result<()> {
        match self.0 {
            VerifierState::P256(k, h) => {
                let sig =
                    p256::ecdsa::Signature::from_der(der).map_err(|_| Error::SignatureInvalid)?;
                k.verify_digest(h, &sig)
                    .map_err(|_| Error::SignatureInvalid)
            }
            VerifierState::P384(k, h) => {
                let sig =
                    p384::ecdsa::Signature::from_der(der).map_err(|_| Error::SignatureInvalid)?;
                k.verify_digest(h, &sig)
                    .map_err(|_| Error::SignatureInvalid)
            }
        }
    }
}

/// `getrandom` as an `rand_core` RNG, for the ECDSA and RSA crates.
pub(crate) mod rand_core_compat {
    pub(crate) use rsa::rand_core::OsRng;
}

impl CryptoProvider for RustCrypto {
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>> {
        let g = match key.len() {
            16 => {
                Gcm::A128(Aes128Gcm::new_from_slice(key).map_err(|_| Error::InvalidKey("AES key"))?)
            }
            24 => {
                Gcm::A192(Aes192Gcm::new_from_slice(key).map_err(|_| Error::InvalidKey("AES key"))?)
            }
            32 => {
                Gcm::A256(Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidKey("AES key"))?)
            }
            _ => return Err(Error::InvalidKey("an AES key must be 16, 24 or 32 bytes")),
        };
        Ok(Box::new(RcAead(g)))
    }

    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<()> {
        match hash {
            HashAlg::Sha256 => hkdf::Hkdf::<Sha256>::new(salt, ikm).expand(info, okm),
            HashAlg::Sha384 => hkdf::Hkdf::<Sha384>::new(salt, ikm).expand(info, okm),
            HashAlg::Sha512 => hkdf::Hkdf::<Sha512>::new(salt, ikm).expand(info, okm),
        }
        .map_err(|_| Error::Crypto("HKDF output too long"))
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::getrandom(buf).map_err(|_| Error::Crypto("the system random source failed"))
    }

    #[cfg(not(feature = "ecdsa"))]
    fn signer(&self, _curve: Curve) -> Result<Box<dyn Signer>> {
        Err(Error::Crypto("built without ECDSA"))
    }

    #[cfg(not(feature = "ecdsa"))]
    fn verifier(&self, _curve: Curve, _public_key: &[u8]) -> Result<Box<dyn Verifier>> {
        Err(Error::Crypto("built without ECDSA"))
    }

    #[cfg(feature = "ecdsa")]
    fn signer(&self, curve: Curve) -> Result<Box<dyn Signer>> {
        let mut rng = rand_core_compat::OsRng;
        Ok(Box::new(RcSigner(match curve {
            Curve::P256 => {
                SignerState::P256(p256::ecdsa::SigningKey::random(&mut rng), Sha256::new())
            }
            Curve::P384 => {
                SignerState::P384(p384::ecdsa::SigningKey::random(&mut rng), Sha384::new())
            }
        })))
    }

    #[cfg(feature = "ecdsa")]
    fn verifier(&self, curve: Curve, public_key: &[u8]) -> Result<Box<dyn Verifier>> {
        Ok(Box::new(RcVerifier(match curve {
            Curve::P256 => VerifierState::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| Error::Malformed("signature public key"))?,
                Sha256::new(),
            ),
            Curve::P384 => VerifierState::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| Error::Malformed("signature public key"))?,
                Sha384::new(),
            ),
        })))
    }
}
