//! ECDSA for the npm package `kms-envelope`, as a second wasm module that the
//! package loads only when a message uses a signed suite (0x0578 and the
//! legacy 0x0214/0x0346/0x0378), so that the P-384 and P-256 arithmetic stays
//! out of the main module.
//!
//! The main module hashes the message (SHA-256 or SHA-384) and calls these
//! functions with the digest through JS; they never see the message. Curves:
//! 0 = P-256, 1 = P-384.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use ecdsa::signature::rand_core::{CryptoRng, Error as RandError, RngCore};
use wasm_bindgen::prelude::*;

/// Curve number of P-256.
pub const P256: u8 = 0;
/// Curve number of P-384.
pub const P384: u8 = 1;

fn err(m: &str) -> JsValue {
    JsValue::from_str(m)
}

/// The SEC1 compressed public key of a private scalar (big-endian, 32 or 48
/// bytes); fails if the scalar is zero or not below the group order.
#[wasm_bindgen]
pub fn public_key(curve: u8, secret: &[u8]) -> Result<Vec<u8>, JsValue> {
    match curve {
        P256 => p256::ecdsa::SigningKey::from_slice(secret)
            .map(|k| k.verifying_key().to_encoded_point(true).as_bytes().to_vec()),
        P384 => p384::ecdsa::SigningKey::from_slice(secret)
            .map(|k| k.verifying_key().to_encoded_point(true).as_bytes().to_vec()),
        _ => return Err(err("unknown curve")),
    }
    .map_err(|_| err("invalid private scalar"))
}

/// The bytes given, as the random source of one signature (RFC 6979 with
/// added entropy: the nonce depends on key, digest and these bytes).
struct Given<'a>(&'a [u8]);

impl RngCore for Given<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (i, d) in dest.iter_mut().enumerate() {
            *d = self.0.get(i % self.0.len().max(1)).copied().unwrap_or(0);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandError> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Given<'_> {}

/// Sign a digest with a private scalar; `entropy` (any length, ideally
/// random) is mixed into the nonce. Returns the low-s DER signature.
#[wasm_bindgen]
pub fn sign(curve: u8, secret: &[u8], digest: &[u8], entropy: &[u8]) -> Result<Vec<u8>, JsValue> {
    let mut rng = Given(entropy);
    let bad = |_| err("ECDSA signing failed");
    match curve {
        P256 => {
            let k = p256::ecdsa::SigningKey::from_slice(secret).map_err(bad)?;
            let s: p256::ecdsa::Signature =
                k.sign_prehash_with_rng(&mut rng, digest).map_err(bad)?;
            Ok(s.normalize_s().unwrap_or(s).to_der().as_bytes().to_vec())
        }
        P384 => {
            let k = p384::ecdsa::SigningKey::from_slice(secret).map_err(bad)?;
            let s: p384::ecdsa::Signature =
                k.sign_prehash_with_rng(&mut rng, digest).map_err(bad)?;
            Ok(s.normalize_s().unwrap_or(s).to_der().as_bytes().to_vec())
        }
        _ => Err(err("unknown curve")),
    }
}

/// Whether `public_key` (SEC1, compressed or not) is a valid point of the curve.
#[wasm_bindgen]
pub fn check_public_key(curve: u8, public_key: &[u8]) -> bool {
    match curve {
        P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).is_ok(),
        P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).is_ok(),
        _ => false,
    }
}

/// Whether the DER signature over `digest` verifies under `public_key`.
#[wasm_bindgen]
pub fn verify(curve: u8, public_key: &[u8], digest: &[u8], der: &[u8]) -> bool {
    match curve {
        P256 => {
            let (Ok(k), Ok(s)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key),
                p256::ecdsa::Signature::from_der(der),
            ) else {
                return false;
            };
            k.verify_prehash(digest, &s).is_ok()
        }
        P384 => {
            let (Ok(k), Ok(s)) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key),
                p384::ecdsa::Signature::from_der(der),
            ) else {
                return false;
            };
            k.verify_prehash(digest, &s).is_ok()
        }
        _ => false,
    }
}
