//! Rewriting a message's header for a new reader without touching its body.
//!
//! A v2 message's body is sealed under keys derived from the data key and the
//! message id only; the header carries the encrypted data keys, the stored
//! encryption context, the key commitment and a tag over all of that. So a
//! holder of the data key can write a *new header* for the same body: the same
//! suite, message id, content type, frame length and commitment, a new
//! encryption context, new encrypted data keys, and a recomputed header tag.
//! The new header followed by the untouched body is a valid message that the
//! official SDKs read. This is how a file is shared without moving its body.
//!
//! [`rewrap_header`] verifies the old header first (header tag and key
//! commitment, in constant time, through the [`Decryptor`]), then hands the
//! existing data key to a keyring's `on_encrypt` (the path where the data key is
//! already set, as for a multi-keyring's children).
//!
//! Refused, with the stable code `UNSUPPORTED_SUITE`:
//! * signed suites (0x0578 and the v1 signed suites): the footer signature
//!   covers the header bytes, so a rewritten header would break it, and only
//!   the original signer holds the private key;
//! * message format v1 (every v1 suite): v1 headers carry no key commitment,
//!   and this writer only writes v2.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::body;
use crate::context::{EncryptionContext, PUBLIC_KEY_FIELD};
use crate::crypto::CryptoProvider;
use crate::decrypt::{DecryptOptions, Decryptor, Status};
use crate::error::{Error, Limit, Result};
use crate::header::{Header, HeaderAuth, Limits};
use crate::keyring::Keyring;
use crate::materials::{provider_or_default, EncryptionMaterials};
use crate::suite::{CommitmentPolicy, IV_LEN};

/// Options of a header rewrite.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RewrapOptions {
    /// The reproduced encryption context of the old header: stored pairs must
    /// match it, and its other pairs are authenticated as required context
    /// (as in [`DecryptOptions::encryption_context`]).
    pub encryption_context: EncryptionContext,
    /// The encryption context of the new header, stored in it as a whole (the
    /// new header has no required-only pairs).
    pub new_encryption_context: EncryptionContext,
    /// The commitment policy applied to the old header.
    pub commitment_policy: CommitmentPolicy,
    /// Parsing limits for the old header.
    pub limits: Limits,
    /// Refuse to write more encrypted data keys than this.
    pub max_encrypted_data_keys: Option<u16>,
    /// The crypto backend; `None` is the default backend.
    pub provider: Option<Arc<dyn CryptoProvider>>,
}

impl core::fmt::Debug for RewrapOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RewrapOptions")
            .field("encryption_context", &self.encryption_context)
            .field("new_encryption_context", &self.new_encryption_context)
            .field("commitment_policy", &self.commitment_policy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The length of the header at the front of `prefix` (header body plus
/// authentication), or `None` if more bytes are needed. The body of the
/// message starts right after it.
pub fn header_length(prefix: &[u8], limits: &Limits) -> Result<Option<usize>> {
    Ok(Header::parse(prefix, limits)?.map(|p| p.total_len))
}

/// Verify `header` (exactly one v2 message header: header body and header
/// authentication) with `keyring`, and return a new header for the same body
/// with `options.new_encryption_context` and the encrypted data keys that
/// `new_keyring` makes of the existing data key.
pub async fn rewrap_header(
    header: &[u8],
    keyring: &dyn Keyring,
    new_keyring: &dyn Keyring,
    options: &RewrapOptions,
) -> Result<Vec<u8>> {
    let parsed = Header::parse(header, &options.limits)?.ok_or(Error::Truncated)?;
    if parsed.total_len != header.len() {
        return Err(Error::TrailingData);
    }
    let suite = parsed.header.suite;
    if suite.message_format_version() != 2 || suite.is_signed() {
        // Signed: the footer signature covers the header. v1: no commitment.
        return Err(Error::UnsupportedSuite(suite.id()));
    }
    let ec = &options.new_encryption_context;
    if ec.contains_key(PUBLIC_KEY_FIELD) {
        return Err(Error::EncryptionContext(format!(
            "the key {PUBLIC_KEY_FIELD} is reserved"
        )));
    }
    let provider = provider_or_default(options.provider.clone());

    // 1. The old header: context check, data key, commitment and tag.
    let mut d = Decryptor::new(DecryptOptions {
        commitment_policy: options.commitment_policy,
        encryption_context: options.encryption_context.clone(),
        limits: options.limits,
        provider: Some(provider.clone()),
        ..Default::default()
    });
    let mut none = Vec::new();
    if d.update(header, &mut none)? != Status::NeedMaterials {
        return Err(Error::InvalidState("the header did not ask for materials"));
    }
    let (materials, edks) = d
        .materials_request()
        .ok_or(Error::InvalidState("no materials request"))?;
    let edks = edks.to_vec();
    let materials = keyring.on_decrypt(materials, &edks).await?;
    let data_key = materials
        .plaintext_data_key
        .as_ref()
        .ok_or(Error::NoDecryptableKey)?
        .duplicate();
    // Checks the key commitment (constant time) and the header tag.
    d.supply_materials(materials)?;
    let old = d
        .header()
        .cloned()
        .ok_or(Error::InvalidState("no header"))?;

    // 2. The existing data key, wrapped for the new reader.
    let m = new_keyring
        .on_encrypt(EncryptionMaterials {
            suite,
            encryption_context: ec.clone(),
            required_encryption_context_keys: Vec::new(),
            plaintext_data_key: Some(data_key),
            encrypted_data_keys: Vec::new(),
        })
        .await?;
    let data_key = m
        .plaintext_data_key
        .ok_or_else(|| Error::Keyring("the new keyring dropped the data key".into()))?;
    if m.encrypted_data_keys.is_empty() {
        return Err(Error::Keyring(
            "the new keyring produced no encrypted data key".into(),
        ));
    }
    if let Some(max) = options.max_encrypted_data_keys {
        if m.encrypted_data_keys.len() > usize::from(max) {
            return Err(Error::LimitExceeded {
                limit: Limit::EncryptedDataKeys,
                max: max.into(),
                found: m.encrypted_data_keys.len() as u64,
            });
        }
    }

    // 3. The new header: same message id, so the same derived keys and commitment.
    let keys = body::derive_keys(provider.as_ref(), suite, data_key.expose(), &old.message_id)?;
    let same_commitment = keys
        .commit_key
        .as_ref()
        .is_some_and(|k| bool::from(k.expose().ct_eq(&old.suite_data)));
    if !same_commitment {
        // The new keyring replaced the data key (the old one verified above).
        return Err(Error::Keyring(
            "the new keyring replaced the data key".into(),
        ));
    }
    let new = Header {
        encryption_context: ec.clone(),
        encrypted_data_keys: m.encrypted_data_keys,
        ..old
    };
    let mut bytes = new.serialize_body()?;
    let iv = [0u8; IV_LEN];
    let tag = keys.content_key.seal_in_place(&iv, &bytes, &mut [])?;
    new.serialize_auth(&HeaderAuth { iv, tag }, &mut bytes);
    if bytes.len() > options.limits.max_header_size {
        return Err(Error::LimitExceeded {
            limit: Limit::HeaderSize,
            max: options.limits.max_header_size as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
