//! Shared input decoding of the kms-envelope-core fuzz targets, so that the
//! seed-corpus generator writes inputs the targets read the same way.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use kms_envelope_core::{CommitmentPolicy, DecryptOptions, Limits, RawAesKeyring, SecretBytes};

/// The wrapping key of the fixed raw AES keyring.
pub const WRAPPING_KEY: [u8; 32] = [0x42; 32];
/// Its key namespace.
pub const NAMESPACE: &str = "fuzz-ns";
/// Its key name.
pub const KEY_NAME: &str = "fuzz-key";

/// The fixed keyring of the `decrypt` target.
pub fn keyring() -> RawAesKeyring {
    RawAesKeyring::new(NAMESPACE, KEY_NAME, SecretBytes::from_slice(&WRAPPING_KEY))
        .expect("valid keyring")
}

/// Bytes of control data in front of a `header_parse` input.
pub const HEADER_CONTROL: usize = 5;

/// `header_parse` input: byte 0 caps the encrypted data keys (0: no cap),
/// bytes 1-2 the header size (0: default), byte 3 the frame length
/// (2^(b % 40)), byte 4 picks a prefix to re-parse. Then the header bytes.
pub fn decode_header_input(data: &[u8]) -> Option<(Limits, u8, &[u8])> {
    if data.len() < HEADER_CONTROL {
        return None;
    }
    let mut limits = Limits::default();
    if data[0] != 0 {
        limits.max_encrypted_data_keys = Some(u16::from(data[0]));
    }
    let size = usize::from(u16::from_be_bytes([data[1], data[2]]));
    if size != 0 {
        limits.max_header_size = size;
    }
    limits.max_frame_length = 1u64 << (data[3] % 40);
    Some((limits, data[4], &data[HEADER_CONTROL..]))
}

/// The control bytes that make [`decode_header_input`] use default-like
/// limits (no key cap, default header size, 2^26 frame length).
pub const HEADER_DEFAULTS: [u8; HEADER_CONTROL] = [0, 0, 0, 26, 128];

/// Bytes of control data in front of a `decrypt` input.
pub const DECRYPT_CONTROL: usize = 2;

/// `decrypt` input: byte 0 is the chunk size minus one; byte 1 holds flags
/// (bit 0 unsigned only; bits 1-2 the commitment policy; bit 3 a 4 KiB frame
/// limit; bit 4 a 4 KiB body limit; bit 5 at most one encrypted data key).
/// Then the message.
pub fn decode_decrypt_input(data: &[u8]) -> Option<(usize, DecryptOptions, &[u8])> {
    if data.len() < DECRYPT_CONTROL {
        return None;
    }
    let chunk = usize::from(data[0]) + 1;
    let flags = data[1];
    let mut o = DecryptOptions::default();
    o.unsigned_only = flags & 1 != 0;
    o.commitment_policy = match (flags >> 1) & 3 {
        0 | 3 => CommitmentPolicy::RequireEncryptAllowDecrypt,
        1 => CommitmentPolicy::RequireEncryptRequireDecrypt,
        _ => CommitmentPolicy::ForbidEncryptAllowDecrypt,
    };
    if flags & 8 != 0 {
        o.limits.max_frame_length = 4096;
    }
    if flags & 16 != 0 {
        o.limits.max_body_size = Some(4096);
    }
    if flags & 32 != 0 {
        o.limits.max_encrypted_data_keys = Some(1);
    }
    Some((chunk, o, &data[DECRYPT_CONTROL..]))
}
