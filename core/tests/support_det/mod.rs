//! Test support shared by `negative.rs` and `properties.rs`: a deterministic
//! crypto provider and a few helpers to drive the streaming machines.
//!
//! Included with `mod support_det;` (a subdirectory, so cargo does not build
//! it as a test target of its own).
#![allow(dead_code)]

pub mod layout;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kms_envelope_core::crypto::rustcrypto::RustCrypto;
use kms_envelope_core::crypto::{AeadKey, CryptoProvider, Signer, Verifier};
use kms_envelope_core::suite::{Curve, HashAlg};
use kms_envelope_core::{
    DecryptOptions, Decryptor, EncryptOptions, Encryptor, Error, Keyring, RawAesKeyring,
    SecretBytes,
};

/// The RustCrypto backend with a deterministic random source: call `n`
/// (counting from 1) of `fill_random` returns HKDF-SHA256(ikm = seed,
/// info = "det-drbg" || n || block) — a counter-mode DRBG built on SHA-256.
///
/// ECDSA key generation and signing still use the system RNG (the trait
/// gives no way to seed them), so only unsigned suites encrypt
/// reproducibly.
#[derive(Debug)]
pub struct DetProvider {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl DetProvider {
    /// A fresh provider whose random stream is fixed by `seed`.
    pub fn new(seed: u64) -> Arc<Self> {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        s[8..].copy_from_slice(b"kms-envelope drbg seed!!");
        Arc::new(Self {
            seed: s,
            counter: AtomicU64::new(0),
        })
    }

    /// As a trait object, for `EncryptOptions.provider`.
    pub fn dyn_arc(self: &Arc<Self>) -> Arc<dyn CryptoProvider> {
        self.clone()
    }
}

impl CryptoProvider for DetProvider {
    fn aead_key(&self, key: &[u8]) -> kms_envelope_core::Result<Box<dyn AeadKey>> {
        RustCrypto.aead_key(key)
    }

    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> kms_envelope_core::Result<()> {
        RustCrypto.hkdf(hash, ikm, salt, info, okm)
    }

    fn fill_random(&self, buf: &mut [u8]) -> kms_envelope_core::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        // HKDF-SHA256 expands at most 255 * 32 bytes per info; go block-wise.
        for (block, chunk) in buf.chunks_mut(4096).enumerate() {
            let mut info = b"det-drbg".to_vec();
            info.extend_from_slice(&n.to_be_bytes());
            info.extend_from_slice(&(block as u64).to_be_bytes());
            RustCrypto.hkdf(HashAlg::Sha256, &self.seed, None, &info, chunk)?;
        }
        Ok(())
    }

    fn signer(&self, curve: Curve) -> kms_envelope_core::Result<Box<dyn Signer>> {
        RustCrypto.signer(curve)
    }

    fn verifier(
        &self,
        curve: Curve,
        public_key: &[u8],
    ) -> kms_envelope_core::Result<Box<dyn Verifier>> {
        RustCrypto.verifier(curve, public_key)
    }
}

/// The wrapping key used by the tests' raw AES keyrings.
pub const WRAPPING_KEY: [u8; 32] = [0x42; 32];
/// Key namespace of the tests' raw AES keyrings.
pub const NAMESPACE: &str = "test-ns";
/// Key name of the tests' raw AES keyrings.
pub const KEY_NAME: &str = "test-key";

/// A raw AES keyring over `key`, drawing randomness from `provider`.
pub fn aes_keyring(
    name: &str,
    key: &[u8],
    provider: Option<Arc<dyn CryptoProvider>>,
) -> RawAesKeyring {
    RawAesKeyring::with_provider(NAMESPACE, name, SecretBytes::from_slice(key), provider)
        .expect("valid raw AES keyring")
}

/// The standard test keyring (default backend), for decryption.
pub fn keyring() -> RawAesKeyring {
    aes_keyring(KEY_NAME, &WRAPPING_KEY, None)
}

/// Split `data` into chunks whose sizes cycle through `sizes` (each >= 1).
pub fn chunks<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    assert!(!sizes.is_empty() && sizes.iter().all(|&s| s > 0));
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

/// Encrypt `pt` fed in chunks of `sizes` with a fresh [`DetProvider`] seeded
/// by `seed` (used for both the keyring and the message).
pub fn det_encrypt(seed: u64, pt: &[u8], options: &EncryptOptions, sizes: &[usize]) -> Vec<u8> {
    let det = DetProvider::new(seed);
    let kr = aes_keyring(KEY_NAME, &WRAPPING_KEY, Some(det.dyn_arc()));
    let mut opts = options.clone();
    opts.provider = Some(det.dyn_arc());
    let mut enc = pollster::block_on(Encryptor::new(&kr, &opts)).expect("encryptor");
    let mut out = Vec::new();
    for c in chunks(pt, sizes) {
        enc.update(c, &mut out).expect("encrypt update");
    }
    enc.finish(&mut out).expect("encrypt finish");
    out
}

/// Streaming decryption of `msg` fed in chunks of `sizes`. Returns the bytes
/// the decryptor released and the first error (from `update` or `finish`).
pub fn stream_decrypt(
    keyring: &dyn Keyring,
    msg: &[u8],
    options: &DecryptOptions,
    sizes: &[usize],
) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(options.clone());
    let mut out = Vec::new();
    for c in chunks(msg, sizes) {
        if let Err(e) = pollster::block_on(dec.update_with(keyring, c, &mut out)) {
            return (out, Err(e));
        }
    }
    let r = dec.finish();
    (out, r)
}

/// Assert that `released` is a prefix of `pt` that ends on a frame boundary
/// (or is all of it).
pub fn assert_frame_prefix(released: &[u8], pt: &[u8], frame_length: usize, what: &str) {
    assert!(
        released.len() <= pt.len() && released == &pt[..released.len()],
        "{what}: released {} bytes that are not a prefix of the plaintext",
        released.len()
    );
    assert!(
        released.len() % frame_length == 0 || released.len() == pt.len(),
        "{what}: released {} bytes, not on a frame boundary (frame {frame_length})",
        released.len()
    );
}

/// Plaintext bytes carried by regular frames (the rest is in the final frame).
pub fn regular_frame_bytes(pt_len: usize, frame_length: usize) -> usize {
    if pt_len == 0 {
        0
    } else {
        (pt_len - 1) / frame_length * frame_length
    }
}

/// A failed decryption of a signed message must not have released the final
/// frame: it is held until the signature verifies.
pub fn assert_no_final_frame(released: &[u8], pt: &[u8], frame_length: usize, what: &str) {
    assert!(
        released.len() <= regular_frame_bytes(pt.len(), frame_length),
        "{what}: a signed message released its final frame ({} of {} bytes) before its signature verified",
        released.len(),
        pt.len()
    );
}
