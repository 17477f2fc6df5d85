//! The KMS keyring: data keys from AWS KMS or the kms-proxy, through a
//! transport the caller supplies (the core does no I/O).
//!
//! Encrypted data keys are written exactly as the official SDKs' AWS KMS
//! keyring writes them: provider id `aws-kms`, provider info the key ARN that
//! KMS returned, ciphertext the KMS ciphertext blob. Messages therefore move
//! freely between this keyring and the official SDKs' KMS keyrings pointed at
//! the same service.

use super::{BoxFuture, Keyring};
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use crate::secret::SecretBytes;

/// The provider id of KMS encrypted data keys.
pub const KMS_PROVIDER_ID: &str = "aws-kms";

/// A plaintext data key and its KMS ciphertext blob.
#[derive(Debug)]
pub struct GeneratedDataKey {
    /// The ARN of the key that produced it.
    pub key_id: String,
    /// The plaintext data key.
    pub plaintext: SecretBytes,
    /// The KMS ciphertext blob.
    pub ciphertext_blob: Vec<u8>,
}

/// The three KMS calls a keyring needs. Implementations carry the transport
/// (fetch, an HTTP client), credentials, timeouts and retries, and map
/// service errors to [`Error::Kms`].
pub trait KmsClient {
    /// `GenerateDataKey` with `NumberOfBytes`.
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        number_of_bytes: usize,
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<GeneratedDataKey>>;

    /// `Encrypt`: returns the key ARN and the ciphertext blob.
    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<(String, Vec<u8>)>>;

    /// `Decrypt` with an explicit `KeyId`: returns the key ARN and the plaintext.
    fn decrypt<'a>(
        &'a self,
        key_id: &'a str,
        ciphertext_blob: &'a [u8],
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<(String, SecretBytes)>>;
}

/// A keyring over KMS keys.
///
/// On encrypt, the first key id generates the data key (`GenerateDataKey`)
/// and every other key id wraps it (`Encrypt`); key ids may be ARNs, key ids
/// or aliases. On decrypt, only encrypted data keys whose provider info is one
/// of the configured key ARNs are tried (aliases cannot match a stored ARN),
/// unless the keyring is a discovery keyring, which tries every `aws-kms`
/// encrypted data key.
pub struct KmsKeyring<C> {
    client: C,
    key_ids: Vec<String>,
    discovery: bool,
}

impl<C> core::fmt::Debug for KmsKeyring<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KmsKeyring")
            .field("key_ids", &self.key_ids)
            .field("discovery", &self.discovery)
            .finish_non_exhaustive()
    }
}

fn is_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" && parts[5].starts_with("key/")
}

impl<C: KmsClient> KmsKeyring<C> {
    /// A keyring whose first key generates data keys.
    pub fn new(client: C, key_ids: Vec<String>) -> Result<Self> {
        if key_ids.is_empty() || key_ids.iter().any(|k| k.is_empty()) {
            return Err(Error::InvalidArgument("a KMS keyring needs key ids".into()));
        }
        Ok(Self {
            client,
            key_ids,
            discovery: false,
        })
    }

    /// A keyring that can only decrypt, trying any `aws-kms` encrypted data key.
    pub fn discovery(client: C) -> Self {
        Self {
            client,
            key_ids: Vec::new(),
            discovery: true,
        }
    }

    fn is_candidate(&self, edk: &EncryptedDataKey) -> Option<String> {
        if edk.provider_id != KMS_PROVIDER_ID.as_bytes() {
            return None;
        }
        let arn = std::str::from_utf8(&edk.provider_info).ok()?;
        if !is_arn(arn) {
            return None;
        }
        if self.discovery || self.key_ids.iter().any(|k| k == arn) {
            Some(arn.to_string())
        } else {
            None
        }
    }
}

impl<C: KmsClient> Keyring for KmsKeyring<C> {
    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            let Some((first, rest)) = self.key_ids.split_first() else {
                return Err(Error::Keyring(
                    "a discovery KMS keyring cannot encrypt".into(),
                ));
            };
            let want = materials.suite.key_len();
            let mut others: &[String] = rest;
            if materials.plaintext_data_key.is_none() {
                let g = self
                    .client
                    .generate_data_key(first, want, &materials.encryption_context)
                    .await?;
                if g.plaintext.len() != want || !is_arn(&g.key_id) {
                    return Err(Error::Keyring(
                        "the key service returned an invalid data key".into(),
                    ));
                }
                materials.plaintext_data_key = Some(g.plaintext);
                materials.encrypted_data_keys.push(EncryptedDataKey {
                    provider_id: KMS_PROVIDER_ID.as_bytes().to_vec(),
                    provider_info: g.key_id.into_bytes(),
                    ciphertext: g.ciphertext_blob,
                });
            } else {
                others = &self.key_ids;
            }
            for key_id in others {
                let key = materials
                    .plaintext_data_key
                    .as_ref()
                    .ok_or(Error::InvalidState("no data key"))?;
                let (arn, blob) = self
                    .client
                    .encrypt(key_id, key.expose(), &materials.encryption_context)
                    .await?;
                if !is_arn(&arn) {
                    return Err(Error::Keyring(
                        "the key service returned an invalid key id".into(),
                    ));
                }
                materials.encrypted_data_keys.push(EncryptedDataKey {
                    provider_id: KMS_PROVIDER_ID.as_bytes().to_vec(),
                    provider_info: arn.into_bytes(),
                    ciphertext: blob,
                });
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
            if materials.plaintext_data_key.is_some() {
                return Ok(materials);
            }
            let mut last_err = None;
            for edk in edks {
                let Some(arn) = self.is_candidate(edk) else {
                    continue;
                };
                match self
                    .client
                    .decrypt(&arn, &edk.ciphertext, &materials.encryption_context)
                    .await
                {
                    Ok((got, key)) if got == arn && key.len() == materials.suite.key_len() => {
                        materials.plaintext_data_key = Some(key);
                        return Ok(materials);
                    }
                    Ok(_) => {
                        last_err = Some(Error::Keyring(
                            "the key service answered for another key or with a bad data key"
                                .into(),
                        ))
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            match last_err {
                Some(e) => Err(e),
                None => Ok(materials),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decrypt, encrypt, DecryptOptions, EncryptOptions};
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A KMS stand-in that keeps blobs in memory, to test the keyring logic;
    /// the real service is tested against kms-proxy.
    type Blobs = HashMap<Vec<u8>, (String, Vec<u8>, EncryptionContext)>;

    #[derive(Default)]
    struct MemKms {
        blobs: RefCell<Blobs>,
    }

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    impl KmsClient for MemKms {
        fn generate_data_key<'a>(
            &'a self,
            key_id: &'a str,
            n: usize,
            ctx: &'a EncryptionContext,
        ) -> BoxFuture<'a, Result<GeneratedDataKey>> {
            Box::pin(async move {
                let key: Vec<u8> = (0..n as u8).collect();
                let (arn, blob) = self.encrypt(key_id, &key, ctx).await?;
                Ok(GeneratedDataKey {
                    key_id: arn,
                    plaintext: SecretBytes::new(key),
                    ciphertext_blob: blob,
                })
            })
        }
        fn encrypt<'a>(
            &'a self,
            key_id: &'a str,
            pt: &'a [u8],
            ctx: &'a EncryptionContext,
        ) -> BoxFuture<'a, Result<(String, Vec<u8>)>> {
            Box::pin(async move {
                if key_id != ARN && key_id != "alias/app" {
                    return Err(Error::Kms(
                        crate::error::KmsErrorKind::KeyNotFound,
                        key_id.into(),
                    ));
                }
                let blob = format!("blob{}", self.blobs.borrow().len()).into_bytes();
                self.blobs
                    .borrow_mut()
                    .insert(blob.clone(), (ARN.into(), pt.to_vec(), ctx.clone()));
                Ok((ARN.to_string(), blob))
            })
        }
        fn decrypt<'a>(
            &'a self,
            _key_id: &'a str,
            blob: &'a [u8],
            ctx: &'a EncryptionContext,
        ) -> BoxFuture<'a, Result<(String, SecretBytes)>> {
            Box::pin(async move {
                match self.blobs.borrow().get(blob) {
                    Some((arn, pt, c)) if c == ctx => {
                        Ok((arn.clone(), SecretBytes::from_slice(pt)))
                    }
                    _ => Err(Error::Kms(
                        crate::error::KmsErrorKind::InvalidCiphertext,
                        "InvalidCiphertextException".into(),
                    )),
                }
            })
        }
    }

    #[test]
    fn writes_aws_kms_edks_and_round_trips() {
        let kr = KmsKeyring::new(MemKms::default(), vec!["alias/app".into()]).unwrap();
        let mut eo = EncryptOptions::default();
        eo.encryption_context.insert("owner", "alice");
        let ct = pollster::block_on(encrypt(&kr, b"hello", &eo)).unwrap();
        // An alias encrypts, but decryption matches ARNs only: not mine.
        let e = pollster::block_on(decrypt(&kr, &ct, &DecryptOptions::default())).unwrap_err();
        assert_eq!(e.code(), "NO_DECRYPTABLE_KEY");
        let strict = KmsKeyring::new(kr.client, vec![ARN.into()]).unwrap();
        let out = pollster::block_on(decrypt(&strict, &ct, &DecryptOptions::default())).unwrap();
        assert_eq!(out.plaintext, b"hello");
        let edk = &out.header.encrypted_data_keys[0];
        assert_eq!(edk.provider_id, b"aws-kms");
        assert_eq!(edk.provider_info, ARN.as_bytes());
        let mut wrong = DecryptOptions::default();
        wrong.encryption_context.insert("owner", "bob");
        assert_eq!(
            pollster::block_on(decrypt(&strict, &ct, &wrong))
                .unwrap_err()
                .code(),
            "ENCRYPTION_CONTEXT_MISMATCH"
        );
    }

    #[test]
    fn service_errors_keep_their_code() {
        let kr = KmsKeyring::new(MemKms::default(), vec!["alias/nope".into()]).unwrap();
        let e = pollster::block_on(encrypt(&kr, b"x", &EncryptOptions::default())).unwrap_err();
        assert_eq!(e.code(), "KMS_KEY_NOT_FOUND");
    }
}
