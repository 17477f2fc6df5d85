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

mod multi;
mod raw_aes;
mod raw_rsa;

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
}
