//! The raw AES keyring (`framework/raw-aes-keyring.md`), byte-compatible with
//! the official SDKs.

use std::sync::Arc;

use super::{BoxFuture, Keyring};
use crate::crypto::CryptoProvider;
use crate::error::{Error, Result};
use crate::materials::{
    provider_or_default, DecryptionMaterials, EncryptedDataKey, EncryptionMaterials,
};
use crate::secret::SecretBytes;
use crate::suite::{IV_LEN, TAG_LEN};

/// Wraps data keys with AES-GCM under a local 128-, 192- or 256-bit key.
///
/// The encrypted data key's provider id is the key namespace; its provider
/// info is `key name || tag length in bits (u32) || IV length (u32) || IV`;
/// its ciphertext is `wrapped key || tag`; the AAD is the serialised
/// encryption context.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: Box<dyn crate::crypto::AeadKey>,
    provider: Arc<dyn CryptoProvider>,
}

impl core::fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl RawAesKeyring {
    /// A keyring over `key` (16, 24 or 32 bytes) with the default backend.
    pub fn new(namespace: &str, name: &str, key: SecretBytes) -> Result<Self> {
        Self::with_provider(namespace, name, key, None)
    }

    /// A keyring using a given crypto backend.
    pub fn with_provider(
        namespace: &str,
        name: &str,
        key: SecretBytes,
        provider: Option<Arc<dyn CryptoProvider>>,
    ) -> Result<Self> {
        if namespace == "aws-kms" {
            return Err(Error::InvalidArgument(
                "the key namespace \"aws-kms\" is reserved".into(),
            ));
        }
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(Error::InvalidKey(
                "a raw AES key must be 16, 24 or 32 bytes",
            ));
        }
        let provider = provider_or_default(provider);
        let key = provider.aead_key(key.expose())?;
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key,
            provider,
        })
    }

    fn info_prefix_len(&self) -> usize {
        self.name.len() + 8
    }

    fn wrap(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        let aad = materials.encryption_context.serialize()?;
        let data_key = materials
            .plaintext_data_key
            .as_ref()
            .ok_or(Error::InvalidState("no data key to wrap"))?;
        let mut iv = [0u8; IV_LEN];
        self.provider.fill_random(&mut iv)?;
        let mut buf = data_key.expose().to_vec();
        let tag = self.key.seal_in_place(&iv, &aad, &mut buf)?;
        buf.extend_from_slice(&tag);
        let mut info = Vec::with_capacity(self.info_prefix_len() + IV_LEN);
        info.extend_from_slice(self.name.as_bytes());
        info.extend_from_slice(&((TAG_LEN * 8) as u32).to_be_bytes());
        info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        info.extend_from_slice(&iv);
        materials.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.as_bytes().to_vec(),
            provider_info: info,
            ciphertext: buf,
        });
        Ok(())
    }

    /// The IV of an encrypted data key, if it is ours.
    fn matching_iv<'e>(&self, edk: &'e EncryptedDataKey) -> Option<&'e [u8]> {
        let info = &edk.provider_info;
        if edk.provider_id != self.namespace.as_bytes()
            || info.len() != self.info_prefix_len() + IV_LEN
            || !info.starts_with(self.name.as_bytes())
        {
            return None;
        }
        let rest = &info[self.name.len()..];
        if rest[..4] != ((TAG_LEN * 8) as u32).to_be_bytes()
            || rest[4..8] != (IV_LEN as u32).to_be_bytes()
        {
            return None;
        }
        Some(&rest[8..])
    }

    fn unwrap_key(
        &self,
        materials: &mut DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<()> {
        let aad = materials.encryption_context.serialize()?;
        let want = materials.suite.key_len();
        let mut failed = false;
        for edk in edks {
            let Some(iv) = self.matching_iv(edk) else {
                continue;
            };
            if edk.ciphertext.len() != want + TAG_LEN {
                failed = true;
                continue;
            }
            let mut iv_arr = [0u8; IV_LEN];
            iv_arr.copy_from_slice(iv);
            let (ct, tag) = edk.ciphertext.split_at(want);
            let mut tag_arr = [0u8; TAG_LEN];
            tag_arr.copy_from_slice(tag);
            let mut key = SecretBytes::from_slice(ct);
            if self
                .key
                .open_in_place(&iv_arr, &aad, key.expose_mut(), &tag_arr)
                .is_ok()
            {
                materials.plaintext_data_key = Some(key);
                return Ok(());
            }
            failed = true;
        }
        if failed {
            return Err(Error::Keyring(format!(
                "raw AES key {}/{} could not unwrap its encrypted data key (wrong key or encryption context)",
                self.namespace, self.name
            )));
        }
        Ok(())
    }
}

impl Keyring for RawAesKeyring {
    fn encrypted_data_key_shapes(
        &self,
        suite: crate::AlgorithmSuite,
    ) -> Option<Vec<super::EdkShape>> {
        Some(vec![super::EdkShape {
            provider_id: self.namespace.len(),
            provider_info: self.info_prefix_len() + IV_LEN,
            ciphertext: suite.key_len() + TAG_LEN,
        }])
    }

    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            if materials.plaintext_data_key.is_none() {
                let mut k = SecretBytes::zeroed(materials.suite.key_len());
                self.provider.fill_random(k.expose_mut())?;
                materials.plaintext_data_key = Some(k);
            }
            self.wrap(&mut materials)?;
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        mut materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            if materials.plaintext_data_key.is_none() {
                self.unwrap_key(&mut materials, edks)?;
            }
            Ok(materials)
        })
    }
}
