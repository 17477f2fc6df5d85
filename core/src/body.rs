//! Body framing (`data-format/message-body.md`, `message-body-aad.md`) and
//! key derivation. Pure functions, shared by the encryptor, the decryptor and
//! any backend that performs the AES-GCM calls itself.

use crate::crypto::{AeadKey, CryptoProvider};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::suite::{AlgorithmSuite, Kdf, IV_LEN, TAG_LEN};

/// The sequence-number marker of a final frame.
pub const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;
/// Bytes a regular frame adds to its content: sequence number, IV, tag.
pub const REGULAR_FRAME_OVERHEAD: usize = 4 + IV_LEN + TAG_LEN;
/// Bytes a final frame adds to its content: marker, sequence number, IV, length, tag.
pub const FINAL_FRAME_OVERHEAD: usize = 4 + 4 + IV_LEN + 4 + TAG_LEN;

/// Which body AAD content string applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyAadKind {
    /// A regular frame.
    Frame,
    /// The final frame.
    FinalFrame,
    /// A non-framed body.
    SingleBlock,
}

impl BodyAadKind {
    fn content_string(self) -> &'static [u8] {
        match self {
            BodyAadKind::Frame => b"AWSKMSEncryptionClient Frame",
            BodyAadKind::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
            BodyAadKind::SingleBlock => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// Write the body AAD into `out` (cleared first): message id, content
/// string, sequence number, content length.
pub fn body_aad(out: &mut Vec<u8>, message_id: &[u8], kind: BodyAadKind, seq: u32, len: u64) {
    out.clear();
    out.extend_from_slice(message_id);
    out.extend_from_slice(kind.content_string());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
}

/// The deterministic IV of frame `seq`: the sequence number, big-endian,
/// left-padded with zeros to 12 bytes.
pub fn frame_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[IV_LEN - 4..].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// The keys derived from a data key for one message.
pub struct MessageKeys {
    /// The AES-GCM key for the header tag and the body.
    pub content_key: Box<dyn AeadKey>,
    /// The commit key (committing suites only).
    pub commit_key: Option<SecretBytes>,
}

/// Derive the content key (and commit key) of a message
/// (`framework/transitive-requirements.md`).
pub fn derive_keys(
    provider: &dyn CryptoProvider,
    suite: AlgorithmSuite,
    data_key: &[u8],
    message_id: &[u8],
) -> Result<MessageKeys> {
    if data_key.len() != suite.key_len() {
        return Err(Error::Keyring(format!(
            "the data key is {} bytes; suite 0x{:04x} needs {}",
            data_key.len(),
            suite.id(),
            suite.key_len()
        )));
    }
    match suite.kdf() {
        Kdf::Identity => Ok(MessageKeys {
            content_key: provider.aead_key(data_key)?,
            commit_key: None,
        }),
        Kdf::Hkdf(hash) => {
            let mut key = SecretBytes::zeroed(suite.key_len());
            let mut info = suite.id().to_be_bytes().to_vec();
            if suite.is_committing() {
                info.extend_from_slice(b"DERIVEKEY");
                provider.hkdf(hash, data_key, Some(message_id), &info, key.expose_mut())?;
                let mut commit = SecretBytes::zeroed(suite.suite_data_len());
                provider.hkdf(
                    hash,
                    data_key,
                    Some(message_id),
                    b"COMMITKEY",
                    commit.expose_mut(),
                )?;
                Ok(MessageKeys {
                    content_key: provider.aead_key(key.expose())?,
                    commit_key: Some(commit),
                })
            } else {
                info.extend_from_slice(message_id);
                provider.hkdf(hash, data_key, None, &info, key.expose_mut())?;
                Ok(MessageKeys {
                    content_key: provider.aead_key(key.expose())?,
                    commit_key: None,
                })
            }
        }
    }
}

/// The exact length of a framed body for `plaintext_len` bytes, as this
/// encryptor writes it (an exact multiple of the frame length ends with a
/// full final frame). `None` if it needs more than 2^32 - 1 frames.
pub fn framed_body_len(plaintext_len: u64, frame_length: u32) -> Option<u64> {
    let f = u64::from(frame_length);
    if f == 0 {
        return None;
    }
    let regular = if plaintext_len == 0 {
        0
    } else {
        (plaintext_len - 1) / f
    };
    if regular >= u64::from(u32::MAX) - 1 {
        return None;
    }
    let last = plaintext_len - regular * f;
    Some(regular * (f + REGULAR_FRAME_OVERHEAD as u64) + FINAL_FRAME_OVERHEAD as u64 + last)
}
