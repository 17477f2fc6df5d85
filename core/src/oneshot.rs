//! One-shot helpers built on the streaming machines.

use crate::context::EncryptionContext;
use crate::decrypt::{DecryptOptions, Decryptor};
use crate::encrypt::{EncryptOptions, Encryptor};
use crate::error::Result;
use crate::header::Header;
use crate::keyring::Keyring;

/// The result of a one-shot decryption.
#[derive(Debug)]
#[non_exhaustive]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The message header.
    pub header: Header,
    /// The whole encryption context (stored plus required pairs).
    pub encryption_context: EncryptionContext,
}

/// Encrypt `plaintext` into one message.
pub async fn encrypt(
    keyring: &dyn Keyring,
    plaintext: &[u8],
    options: &EncryptOptions,
) -> Result<Vec<u8>> {
    let mut enc = Encryptor::new(keyring, options).await?;
    let mut out = Vec::with_capacity(
        enc.ciphertext_length(plaintext.len() as u64)
            .unwrap_or(0)
            .min(isize::MAX as u64) as usize,
    );
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Decrypt one whole message. Bytes after the message are an error.
pub async fn decrypt(
    keyring: &dyn Keyring,
    message: &[u8],
    options: &DecryptOptions,
) -> Result<Decrypted> {
    let mut dec = Decryptor::new(options.clone());
    let mut out = Vec::with_capacity(message.len());
    dec.update_with(keyring, message, &mut out).await?;
    dec.finish()?;
    let header = dec.header().cloned().ok_or(crate::Error::Truncated)?;
    Ok(Decrypted {
        plaintext: out,
        header,
        encryption_context: dec.encryption_context().clone(),
    })
}
