//! Keyrings: they generate, wrap and unwrap data keys.
//!
//! A keyring's methods return futures, so a keyring may call a remote service
//! (a KMS proxy, a JavaScript callback). On decrypt, returning the materials
//! without a data key means "none of these encrypted data keys are mine";
//! an `Err` means a key that was for this keyring failed to unwrap, or the
//! key source failed.

use core::future::Future;
use core::pin::Pin;

use crate::error::Result;
use crate::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use crate::suite::AlgorithmSuite;

pub mod kms;
mod multi;
mod raw_aes;
mod raw_rsa;

pub use kms::{KmsClient, KmsKeyring};
pub use multi::MultiKeyring;
pub use raw_aes::RawAesKeyring;
pub use raw_rsa::{RawRsaKeyring, RsaPadding};

/// A boxed future, not required to be `Send` (browser keyrings are not).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A source of data keys.
pub trait Keyring {
    /// Generate the data key if there is none yet, and add an encrypted data key.
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>>;

    /// Try to decrypt one of `edks`. Materials without a data key mean
    /// "not mine"; `Err` means a real failure.
    fn on_decrypt<'a>(
        &'a self,
        materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>>;

    /// The sizes of the encrypted data keys this keyring adds on encrypt, if
    /// they are fixed. [`crate::ciphertext_length`] needs them to give a
    /// message's length before any key is generated.
    fn encrypted_data_key_shapes(&self, suite: AlgorithmSuite) -> Option<Vec<EdkShape>> {
        let _ = suite;
        None
    }
}

/// The field sizes of one encrypted data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdkShape {
    /// Length of the provider id.
    pub provider_id: usize,
    /// Length of the provider info.
    pub provider_info: usize,
    /// Length of the wrapped key.
    pub ciphertext: usize,
}

impl<K: Keyring + ?Sized> Keyring for Box<K> {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        (**self).on_encrypt(materials)
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        (**self).on_decrypt(materials, edks)
    }

    fn encrypted_data_key_shapes(&self, suite: AlgorithmSuite) -> Option<Vec<EdkShape>> {
        (**self).encrypted_data_key_shapes(suite)
    }
}

impl<K: Keyring + ?Sized> Keyring for std::sync::Arc<K> {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        (**self).on_encrypt(materials)
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        (**self).on_decrypt(materials, edks)
    }

    fn encrypted_data_key_shapes(&self, suite: AlgorithmSuite) -> Option<Vec<EdkShape>> {
        (**self).encrypted_data_key_shapes(suite)
    }
}
