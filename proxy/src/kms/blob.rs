//! The ciphertext blob: what Encrypt and GenerateDataKey return and Decrypt
//! takes. Opaque to callers, as in KMS, but self-describing so that Decrypt
//! needs no key id:
//!
//! ```text
//! "KP" | format 0x01 | key UUID (16) | key version (u32 BE) | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! AES-256-GCM under the key version's material; the AAD is the 23 header
//! bytes followed by the canonical serialisation of the encryption context,
//! so neither the key, the version nor the context can be swapped.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_envelope_core::SecretBytes;
use uuid::Uuid;

use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::rootkey::random_bytes;

const MAGIC: &[u8; 2] = b"KP";
const FORMAT: u8 = 1;
/// Header bytes before the nonce.
pub const HEADER_LEN: usize = 2 + 1 + 16 + 4;
/// The smallest possible blob (empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + 12 + 16;

/// Which key version a blob was made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobKey {
    /// The key id.
    pub key_id: Uuid,
    /// The key version.
    pub version: u32,
}

fn invalid() -> KmsError {
    KmsError::new(
        ErrorKind::InvalidCiphertext,
        "The ciphertext is invalid or was not produced by this service",
    )
}

fn header(k: BlobKey) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..2].copy_from_slice(MAGIC);
    h[2] = FORMAT;
    h[3..19].copy_from_slice(k.key_id.as_bytes());
    h[19..23].copy_from_slice(&k.version.to_be_bytes());
    h
}

fn aad(h: &[u8], context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(h.len() + context.len());
    a.extend_from_slice(h);
    a.extend_from_slice(context);
    a
}

/// Read the key and version a blob names (not yet authenticated).
pub fn parse(blob: &[u8]) -> KmsResult<BlobKey> {
    if blob.len() < MIN_LEN || &blob[..2] != MAGIC || blob[2] != FORMAT {
        return Err(invalid());
    }
    let id: [u8; 16] = blob[3..19].try_into().map_err(|_| invalid())?;
    let version = u32::from_be_bytes(blob[19..23].try_into().map_err(|_| invalid())?);
    if version == 0 {
        return Err(invalid());
    }
    Ok(BlobKey {
        key_id: Uuid::from_bytes(id),
        version,
    })
}

/// Encrypt `plaintext` under a key version's material.
pub fn seal(material: &SecretBytes, k: BlobKey, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let h = header(k);
    let mut nonce = [0u8; 12];
    random_bytes(&mut nonce);
    let cipher = Aes256Gcm::new_from_slice(material.expose()).expect("32-byte material");
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad(&h, context),
            },
        )
        .expect("AES-GCM encryption of at most 4 KiB cannot fail");
    let mut out = Vec::with_capacity(HEADER_LEN + 12 + ct.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypt a blob; fails unless key, version, context and bytes all match.
pub fn open(material: &SecretBytes, blob: &[u8], context: &[u8]) -> KmsResult<SecretBytes> {
    parse(blob)?;
    let (h, rest) = blob.split_at(HEADER_LEN);
    let (nonce, ct) = rest.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| invalid())?;
    let cipher = Aes256Gcm::new_from_slice(material.expose()).map_err(|_| invalid())?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ct,
                aad: &aad(h, context),
            },
        )
        .map(SecretBytes::new)
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_binding_holds() {
        let m = SecretBytes::new(vec![9u8; 32]);
        let k = BlobKey {
            key_id: Uuid::new_v4(),
            version: 3,
        };
        let blob = seal(&m, k, b"ctx", b"hello");
        assert_eq!(parse(&blob).unwrap(), k);
        assert_eq!(open(&m, &blob, b"ctx").unwrap().expose(), b"hello");
        assert!(open(&m, &blob, b"ctx2").is_err());
        assert!(open(&m, &blob, b"").is_err());
        assert!(open(&SecretBytes::new(vec![8u8; 32]), &blob, b"ctx").is_err());
        let mut other_version = blob.clone();
        other_version[22] = 4;
        assert!(open(&m, &other_version, b"ctx").is_err());
        let mut flipped = blob.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open(&m, &flipped, b"ctx").is_err());
        assert_eq!(
            parse(&blob[..MIN_LEN - 1]).unwrap_err().kind,
            ErrorKind::InvalidCiphertext
        );
        assert!(parse(b"not a blob at all, just some text that is long enough").is_err());
    }
}
