//! Cryptographic materials passed between the format code and keyrings
//! (`framework/structures.md`).

use std::sync::Arc;

use crate::context::EncryptionContext;
use crate::crypto::CryptoProvider;
use crate::secret::DataKey;
use crate::suite::AlgorithmSuite;

/// An encrypted data key as stored in the header. Public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Key provider id (the raw keyrings' key namespace, or `aws-kms`).
    pub provider_id: Vec<u8>,
    /// Key provider info (key name and wrapping parameters, or a key ARN).
    pub provider_info: Vec<u8>,
    /// The wrapped data key.
    pub ciphertext: Vec<u8>,
}

impl EncryptedDataKey {
    /// The provider id as text, lossily.
    pub fn provider_id_str(&self) -> String {
        String::from_utf8_lossy(&self.provider_id).into_owned()
    }
}

/// What a keyring receives and returns on encrypt.
#[derive(Debug)]
pub struct EncryptionMaterials {
    /// The suite of the message.
    pub suite: AlgorithmSuite,
    /// The whole encryption context, including pairs that will be
    /// authenticated but not stored.
    pub encryption_context: EncryptionContext,
    /// Keys of the context that are authenticated but not stored.
    pub required_encryption_context_keys: Vec<String>,
    /// The plaintext data key, once a keyring generated it.
    pub plaintext_data_key: Option<DataKey>,
    /// Encrypted data keys added so far.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
}

/// What a keyring receives and returns on decrypt.
#[derive(Debug)]
pub struct DecryptionMaterials {
    /// The suite of the message.
    pub suite: AlgorithmSuite,
    /// The whole encryption context: stored pairs plus the reproduced ones
    /// that are authenticated only.
    pub encryption_context: EncryptionContext,
    /// Keys of the context that were authenticated but not stored.
    pub required_encryption_context_keys: Vec<String>,
    /// The plaintext data key, once a keyring decrypted it.
    pub plaintext_data_key: Option<DataKey>,
}

pub(crate) fn provider_or_default(p: Option<Arc<dyn CryptoProvider>>) -> Arc<dyn CryptoProvider> {
    p.unwrap_or_else(crate::crypto::default_provider)
}
