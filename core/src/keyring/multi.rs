//! The multi-keyring (`framework/multi-keyring.md`).

use super::{BoxFuture, Keyring};
use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};

/// A generator keyring plus child keyrings. On encrypt the generator makes the
/// data key and every keyring wraps it; on decrypt each is tried in turn.
pub struct MultiKeyring {
    generator: Option<Box<dyn Keyring>>,
    children: Vec<Box<dyn Keyring>>,
}

impl core::fmt::Debug for MultiKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("generator", &self.generator.is_some())
            .field("children", &self.children.len())
            .finish()
    }
}

impl MultiKeyring {
    /// A multi-keyring. With no generator it can only add encrypted data keys
    /// to a data key that already exists, and decrypt.
    pub fn new(
        generator: Option<Box<dyn Keyring>>,
        children: Vec<Box<dyn Keyring>>,
    ) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::InvalidArgument(
                "a multi-keyring needs a generator or at least one child".into(),
            ));
        }
        Ok(Self {
            generator,
            children,
        })
    }

    fn all(&self) -> impl Iterator<Item = &dyn Keyring> {
        self.generator
            .iter()
            .chain(self.children.iter())
            .map(|k| k.as_ref())
    }
}

impl Keyring for MultiKeyring {
    fn encrypted_data_key_shapes(
        &self,
        suite: crate::AlgorithmSuite,
    ) -> Option<Vec<super::EdkShape>> {
        let mut all = Vec::new();
        for k in self.all() {
            all.extend(k.encrypted_data_key_shapes(suite)?);
        }
        Some(all)
    }

    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            if self.generator.is_none() && materials.plaintext_data_key.is_none() {
                return Err(Error::Keyring(
                    "a multi-keyring without a generator cannot create a data key".into(),
                ));
            }
            for k in self.all() {
                materials = k.on_encrypt(materials).await?;
            }
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        mut materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            let mut errors = Vec::new();
            for k in self.all() {
                if materials.plaintext_data_key.is_some() {
                    break;
                }
                // A failing child must not lose the materials: rebuild them.
                let suite = materials.suite;
                let ec = materials.encryption_context.clone();
                let req = materials.required_encryption_context_keys.clone();
                match k.on_decrypt(materials, edks).await {
                    Ok(m) => materials = m,
                    Err(e) => {
                        errors.push(e.to_string());
                        materials = DecryptionMaterials {
                            suite,
                            encryption_context: ec,
                            required_encryption_context_keys: req,
                            plaintext_data_key: None,
                        };
                    }
                }
            }
            if materials.plaintext_data_key.is_none() && !errors.is_empty() {
                return Err(Error::Keyring(errors.join("; ")));
            }
            Ok(materials)
        })
    }
}
