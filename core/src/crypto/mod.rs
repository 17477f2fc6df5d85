//! The pluggable crypto backend: a narrow trait for AES-GCM seal and open,
//! HKDF, random bytes, and ECDSA sign and verify.
//!
//! The format code calls only this trait, so another backend (WebCrypto in
//! the browser) can plug in without touching it.

use crate::error::Result;
use crate::suite::{Curve, HashAlg, IV_LEN, TAG_LEN};

#[cfg(feature = "rustcrypto")]
pub mod rustcrypto;

/// An opaque AEAD authentication failure: it says nothing about why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError;

/// An AES-GCM key, ready for use. Implementations zeroize on drop.
pub trait AeadKey: Send + Sync {
    /// Encrypt `buf` in place and return the tag.
    fn seal_in_place(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8])
        -> Result<[u8; TAG_LEN]>;
    /// Decrypt `buf` in place if `tag` verifies. On failure `buf` is left in
    /// an unspecified state and must not be released.
    fn open_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> core::result::Result<(), AuthError>;
}

/// An incremental ECDSA signer: feed the message, then sign.
pub trait Signer: Send {
    /// Hash more of the message.
    fn update(&mut self, data: &[u8]);
    /// The public key, SEC1 compressed.
    fn public_key(&self) -> Vec<u8>;
    /// Sign what was fed; returns a DER signature.
    fn sign(self: Box<Self>) -> Result<Vec<u8>>;
}

/// An incremental ECDSA verifier.
pub trait Verifier: Send {
    /// Hash more of the message.
    fn update(&mut self, data: &[u8]);
    /// Check a DER signature over what was fed.
    fn verify(self: Box<Self>, der_signature: &[u8]) -> Result<()>;
}

/// A crypto backend.
pub trait CryptoProvider: Send + Sync {
    /// An AES-GCM key of 16, 24 or 32 bytes.
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>>;
    /// HKDF extract-then-expand into `okm`.
    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<()>;
    /// Fill `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]) -> Result<()>;
    /// A fresh signing key pair on `curve`.
    fn signer(&self, curve: Curve) -> Result<Box<dyn Signer>>;
    /// A verifier for a SEC1 (compressed or uncompressed) public key.
    fn verifier(&self, curve: Curve, public_key: &[u8]) -> Result<Box<dyn Verifier>>;
}

/// The default backend of this build.
#[cfg(feature = "rustcrypto")]
pub fn default_provider() -> std::sync::Arc<dyn CryptoProvider> {
    std::sync::Arc::new(rustcrypto::RustCrypto)
}
