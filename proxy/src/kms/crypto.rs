//! Data keys and direct cryptography: GenerateDataKey(WithoutPlaintext),
//! Encrypt, Decrypt, ReEncrypt, GenerateRandom.

use std::collections::BTreeMap;

use kms_envelope_core::SecretBytes;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::blob::{self, BlobKey};
use super::params::{self, parse, required};
use super::{alias_of, Kms};
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::rootkey::random_bytes;
use crate::store::{KeyManager, KeyRecord};

/// The largest plaintext Encrypt takes, as in KMS.
pub const MAX_ENCRYPT_PLAINTEXT: usize = 4096;
/// The largest ciphertext blob Decrypt takes, as in KMS.
pub const MAX_CIPHERTEXT: usize = 6144;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyReq {
    key_id: Option<String>,
    encryption_context: Option<BTreeMap<String, String>>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptReq {
    key_id: Option<String>,
    plaintext: Option<String>,
    encryption_context: Option<BTreeMap<String, String>>,
    encryption_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptReq {
    ciphertext_blob: Option<String>,
    key_id: Option<String>,
    encryption_context: Option<BTreeMap<String, String>>,
    encryption_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptReq {
    ciphertext_blob: Option<String>,
    source_encryption_context: Option<BTreeMap<String, String>>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<BTreeMap<String, String>>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RandomReq {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

impl Kms {
    /// Encrypt under the key's current version.
    fn seal_with(&self, key: &KeyRecord, context: &[u8], plaintext: &[u8]) -> KmsResult<Vec<u8>> {
        let material = self.material(&key.id, key.current_version)?;
        let id = Uuid::parse_str(&key.id).map_err(KmsError::internal)?;
        Ok(blob::seal(
            &material,
            BlobKey {
                key_id: id,
                version: key.current_version,
            },
            context,
            plaintext,
        ))
    }

    /// Decode, authorize and open a ciphertext blob; returns its key and plaintext.
    fn open_blob(
        &self,
        p: &Principal,
        action: &'static str,
        blob_b64: Option<String>,
        key_id: Option<&str>,
        ctx: &(BTreeMap<String, String>, Vec<u8>),
    ) -> KmsResult<(KeyRecord, SecretBytes)> {
        let blob_bytes = params::blob(&required(blob_b64, "CiphertextBlob")?, "CiphertextBlob")?;
        if blob_bytes.is_empty() || blob_bytes.len() > MAX_CIPHERTEXT {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and {MAX_CIPHERTEXT}"
            )));
        }
        let bk = blob::parse(&blob_bytes)?;
        let blob_key_id = bk.key_id.to_string();
        // The audit event names the version that made the ciphertext.
        crate::audit::note(|n| n.key_version = Some(bk.version));
        if let Some(named) = key_id {
            let named_key = self.resolve(named, true)?;
            if named_key.id != blob_key_id {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKey,
                    "The key ID in the request does not identify the key that encrypted the ciphertext",
                ));
            }
        }
        let key = self
            .load_live(&blob_key_id)?
            .filter(|k| k.manager != KeyManager::Internal)
            .ok_or_else(|| {
                KmsError::not_found(format!(
                    "Key '{}' does not exist",
                    self.key_arn(&blob_key_id)
                ))
            })?;
        self.authorize(
            p,
            action,
            Some(&key),
            Some(&ctx.0),
            key_id.and_then(alias_of),
        )?;
        self.require_usable(&key)?;
        let material = self.material(&key.id, bk.version)?;
        let plaintext = blob::open(&material, &blob_bytes, &ctx.1)?;
        Ok((key, plaintext))
    }

    pub(super) fn generate_data_key(
        &self,
        p: &Principal,
        body: Value,
        with_plaintext: bool,
    ) -> KmsResult<Value> {
        let r: DataKeyReq = parse(body)?;
        let key_id = required(r.key_id, "KeyId")?;
        let len = match (r.number_of_bytes, r.key_spec.as_deref()) {
            (Some(n), None) => params::range(n, "NumberOfBytes", 1, 1024)? as usize,
            (None, Some("AES_256")) => 32,
            (None, Some("AES_128")) => 16,
            (None, Some(_)) => {
                return Err(KmsError::validation(
                    "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
                ))
            }
            (None, None) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec.",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec, not both.",
                ))
            }
        };
        let ctx = params::context(r.encryption_context)?;
        let key = self.resolve(&key_id, true)?;
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        self.authorize(p, action, Some(&key), Some(&ctx.0), alias_of(&key_id))?;
        self.require_usable(&key)?;
        let mut data_key = SecretBytes::zeroed(len);
        random_bytes(data_key.expose_mut());
        let ct = self.seal_with(&key, &ctx.1, data_key.expose())?;
        let mut resp = json!({
            "CiphertextBlob": params::b64(&ct),
            "KeyId": self.key_arn(&key.id),
        });
        if with_plaintext {
            resp["Plaintext"] = json!(params::b64(data_key.expose()));
        }
        Ok(resp)
    }

    pub(super) fn encrypt(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: EncryptReq = parse(body)?;
        let key_id = required(r.key_id, "KeyId")?;
        let plaintext = SecretBytes::new(params::blob(
            &required(r.plaintext, "Plaintext")?,
            "Plaintext",
        )?);
        if plaintext.is_empty() || plaintext.len() > MAX_ENCRYPT_PLAINTEXT {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and {MAX_ENCRYPT_PLAINTEXT}. \
                 Encrypt takes at most 4096 bytes: for larger data use envelope encryption \
                 (GenerateDataKey, then encrypt the data locally with the data key, e.g. with kms-envelope)"
            )));
        }
        params::algorithm(r.encryption_algorithm.as_deref(), "EncryptionAlgorithm")?;
        let ctx = params::context(r.encryption_context)?;
        let key = self.resolve(&key_id, true)?;
        self.authorize(
            p,
            "kms:Encrypt",
            Some(&key),
            Some(&ctx.0),
            alias_of(&key_id),
        )?;
        self.require_usable(&key)?;
        let ct = self.seal_with(&key, &ctx.1, plaintext.expose())?;
        Ok(json!({
            "CiphertextBlob": params::b64(&ct),
            "KeyId": self.key_arn(&key.id),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    pub(super) fn decrypt(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: DecryptReq = parse(body)?;
        params::algorithm(r.encryption_algorithm.as_deref(), "EncryptionAlgorithm")?;
        let ctx = params::context(r.encryption_context)?;
        let (key, plaintext) = self.open_blob(
            p,
            "kms:Decrypt",
            r.ciphertext_blob,
            r.key_id.as_deref(),
            &ctx,
        )?;
        Ok(json!({
            "KeyId": self.key_arn(&key.id),
            "Plaintext": params::b64(plaintext.expose()),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    pub(super) fn re_encrypt(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ReEncryptReq = parse(body)?;
        let dest_id = required(r.destination_key_id, "DestinationKeyId")?;
        params::algorithm(
            r.source_encryption_algorithm.as_deref(),
            "SourceEncryptionAlgorithm",
        )?;
        params::algorithm(
            r.destination_encryption_algorithm.as_deref(),
            "DestinationEncryptionAlgorithm",
        )?;
        let src_ctx = params::context(r.source_encryption_context)?;
        let dst_ctx = params::context(r.destination_encryption_context)?;
        let dest = self.resolve(&dest_id, true)?;
        let (source, plaintext) = self.open_blob(
            p,
            "kms:ReEncryptFrom",
            r.ciphertext_blob,
            r.source_key_id.as_deref(),
            &src_ctx,
        )?;
        self.authorize(
            p,
            "kms:ReEncryptTo",
            Some(&dest),
            Some(&dst_ctx.0),
            alias_of(&dest_id),
        )?;
        self.require_usable(&dest)?;
        let ct = self.seal_with(&dest, &dst_ctx.1, plaintext.expose())?;
        Ok(json!({
            "CiphertextBlob": params::b64(&ct),
            "SourceKeyId": self.key_arn(&source.id),
            "KeyId": self.key_arn(&dest.id),
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    pub(super) fn generate_random(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: RandomReq = parse(body)?;
        if r.custom_key_store_id.is_some() || r.recipient.is_some() {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "CustomKeyStoreId and Recipient are not supported by this proxy",
            ));
        }
        let n = params::range(
            required(r.number_of_bytes, "NumberOfBytes")?,
            "NumberOfBytes",
            1,
            1024,
        )?;
        self.authorize(p, "kms:GenerateRandom", None, None, None)?;
        let mut buf = SecretBytes::zeroed(n as usize);
        random_bytes(buf.expose_mut());
        Ok(json!({ "Plaintext": params::b64(buf.expose()) }))
    }
}
