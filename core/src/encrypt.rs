//! The sans-I/O encryptor: push plaintext chunks of any size, get message
//! bytes out, with about one frame of buffer.

use std::sync::Arc;

use base64::Engine;
use subtle::ConstantTimeEq as _;

use crate::body::{self, BodyAadKind, FINAL_FRAME_MARKER};
use crate::context::{EncryptionContext, PUBLIC_KEY_FIELD};
use crate::crypto::{AeadKey, CryptoProvider, Signer};
use crate::error::{Error, Result};
use crate::header::{ContentType, Header, HeaderAuth};
use crate::keyring::Keyring;
use crate::materials::{provider_or_default, EncryptionMaterials};
use crate::suite::{AlgorithmSuite, CommitmentPolicy, Curve, IV_LEN, TAG_LEN};

/// The default frame length: 64 KiB. See the README's performance section:
/// frames this size run at full speed natively and are the fastest size for
/// WebCrypto calls, while bounding the decryptor's buffer.
pub const DEFAULT_FRAME_LENGTH: u32 = 64 * 1024;

/// Options of an encryption.
#[derive(Clone)]
#[non_exhaustive]
pub struct EncryptOptions {
    /// The suite; `None` picks the commitment policy's default (0x0478).
    pub suite: Option<AlgorithmSuite>,
    /// Frame length in bytes (1 ..= 2^32 - 1).
    pub frame_length: u32,
    /// The encryption context.
    pub encryption_context: EncryptionContext,
    /// Keys of the context to authenticate without storing them.
    pub required_encryption_context_keys: Vec<String>,
    /// The commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// Refuse to write more encrypted data keys than this.
    pub max_encrypted_data_keys: Option<u16>,
    /// The crypto backend; `None` is the default backend.
    pub provider: Option<Arc<dyn CryptoProvider>>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            encryption_context: EncryptionContext::new(),
            required_encryption_context_keys: Vec::new(),
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            provider: None,
        }
    }
}

impl core::fmt::Debug for EncryptOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptOptions")
            .field("suite", &self.suite)
            .field("frame_length", &self.frame_length)
            .field("encryption_context", &self.encryption_context)
            .field("commitment_policy", &self.commitment_policy)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Open,
    Done,
    Failed,
}

/// Encrypts one message.
pub struct Encryptor {
    suite: AlgorithmSuite,
    key: Box<dyn AeadKey>,
    message_id: Vec<u8>,
    frame_length: usize,
    header: Vec<u8>,
    header_pending: bool,
    pending: Vec<u8>,
    seq: u32,
    aad: Vec<u8>,
    signer: Option<Box<dyn Signer>>,
    state: State,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("suite", &self.suite)
            .field("frame_length", &self.frame_length)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Get materials from `keyring` (the default CMM) and prepare the header.
    pub async fn new(keyring: &dyn Keyring, options: &EncryptOptions) -> Result<Self> {
        let provider = provider_or_default(options.provider.clone());
        let policy = options.commitment_policy;
        let suite = options.suite.unwrap_or_else(|| policy.default_suite());
        policy.check_encrypt(suite)?;
        if options.frame_length == 0 {
            return Err(Error::InvalidArgument(
                "the frame length must be at least 1".into(),
            ));
        }
        let mut ec = options.encryption_context.clone();
        if ec.contains_key(PUBLIC_KEY_FIELD) {
            return Err(Error::EncryptionContext(format!(
                "the key {PUBLIC_KEY_FIELD} is reserved"
            )));
        }
        for k in &options.required_encryption_context_keys {
            if !ec.contains_key(k) {
                return Err(Error::EncryptionContext(format!(
                    "required key {k:?} is not in the encryption context"
                )));
            }
        }
        let signer = match suite.signature() {
            Some(curve) => {
                let s = provider.signer(curve)?;
                let pk = base64::engine::general_purpose::STANDARD.encode(s.public_key());
                ec.insert(PUBLIC_KEY_FIELD, pk);
                Some(s)
            }
            None => None,
        };
        let materials = EncryptionMaterials {
            suite,
            encryption_context: ec,
            required_encryption_context_keys: options.required_encryption_context_keys.clone(),
            plaintext_data_key: None,
            encrypted_data_keys: Vec::new(),
        };
        let materials = keyring.on_encrypt(materials).await?;
        Self::from_materials(provider, materials, signer, options)
    }

    /// Prepare the header from materials a caller obtained itself.
    pub fn from_materials(
        provider: Arc<dyn CryptoProvider>,
        materials: EncryptionMaterials,
        signer: Option<Box<dyn Signer>>,
        options: &EncryptOptions,
    ) -> Result<Self> {
        let suite = materials.suite;
        options.commitment_policy.check_encrypt(suite)?;
        if suite.is_signed() != signer.is_some() {
            return Err(Error::InvalidArgument(
                "a signer is needed exactly for signed suites".into(),
            ));
        }
        let data_key = materials
            .plaintext_data_key
            .as_ref()
            .ok_or_else(|| Error::Keyring("the keyring produced no data key".into()))?;
        if materials.encrypted_data_keys.is_empty() {
            return Err(Error::Keyring(
                "the keyring produced no encrypted data key".into(),
            ));
        }
        if let Some(max) = options.max_encrypted_data_keys {
            if materials.encrypted_data_keys.len() > usize::from(max) {
                return Err(Error::LimitExceeded {
                    limit: crate::error::Limit::EncryptedDataKeys,
                    max: max.into(),
                    found: materials.encrypted_data_keys.len() as u64,
                });
            }
        }
        let mut message_id = vec![0u8; suite.message_id_len()];
        provider.fill_random(&mut message_id)?;
        let keys = body::derive_keys(provider.as_ref(), suite, data_key.expose(), &message_id)?;

        let mut stored = materials.encryption_context.clone();
        let mut required = EncryptionContext::new();
        for k in &materials.required_encryption_context_keys {
            if let Some(v) = stored.remove(k) {
                required.insert(k.clone(), v);
            }
        }
        let header = Header {
            suite,
            message_id: message_id.clone(),
            encryption_context: stored,
            encrypted_data_keys: materials.encrypted_data_keys,
            content_type: ContentType::Framed,
            frame_length: options.frame_length,
            suite_data: keys
                .commit_key
                .as_ref()
                .map(|k| k.expose().to_vec())
                .unwrap_or_default(),
        };
        let mut bytes = header.serialize_body()?;
        let mut aad = bytes.clone();
        required.serialize_into(&mut aad)?;
        let iv = [0u8; IV_LEN];
        let tag = keys.content_key.seal_in_place(&iv, &aad, &mut [])?;
        header.serialize_auth(&HeaderAuth { iv, tag }, &mut bytes);
        debug_assert!(keys
            .commit_key
            .as_ref()
            .is_none_or(|k| bool::from(k.expose().ct_eq(&header.suite_data))));

        Ok(Self {
            suite,
            key: keys.content_key,
            message_id,
            frame_length: options.frame_length as usize,
            header: bytes,
            header_pending: true,
            pending: Vec::new(),
            seq: 1,
            aad: Vec::with_capacity(128),
            signer,
            state: State::Open,
        })
    }

    /// The suite of the message.
    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The length of the header this encryptor writes.
    pub fn header_len(&self) -> usize {
        self.header.len()
    }

    /// The exact length of the whole message for a plaintext of
    /// `plaintext_len` bytes (the default backend makes every signature full
    /// length; with a backend that does not, signed suites may come out a
    /// byte or two shorter).
    pub fn ciphertext_length(&self, plaintext_len: u64) -> Option<u64> {
        let body = body::framed_body_len(plaintext_len, self.frame_length as u32)?;
        Some(self.header.len() as u64 + body + footer_len(self.suite))
    }

    /// Encrypt `input`, appending message bytes to `out`. Output lags input
    /// by at most one frame, which is held until the next call or
    /// [`finish`](Self::finish) shows whether it is the final frame.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.check_open()?;
        let start = out.len();
        self.emit_header(out);
        let f = self.frame_length;
        let r = (|| {
            while !input.is_empty() {
                if self.pending.len() == f {
                    let pending = core::mem::take(&mut self.pending);
                    self.seal_regular(&pending, out)?;
                    self.pending = pending;
                    self.pending.clear();
                }
                if self.pending.is_empty() && input.len() > f {
                    // Straight from the input into the output: one copy.
                    let (frame, rest) = input.split_at(f);
                    self.seal_regular(frame, out)?;
                    input = rest;
                    continue;
                }
                if self.pending.capacity() < f {
                    self.pending.reserve_exact(f - self.pending.len());
                }
                let n = (f - self.pending.len()).min(input.len());
                self.pending.extend_from_slice(&input[..n]);
                input = &input[n..];
            }
            Ok(())
        })();
        self.after(r, start, out)
    }

    /// Seal the final frame (and the footer of signed suites).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.check_open()?;
        let start = out.len();
        self.emit_header(out);
        let pending = core::mem::take(&mut self.pending);
        let r = self.seal_final(&pending, out);
        let r = self.after(r, start, out);
        if r.is_ok() {
            if let Some(signer) = self.signer.take() {
                let sig = signer.sign()?;
                out.extend_from_slice(&(sig.len() as u16).to_be_bytes());
                out.extend_from_slice(&sig);
            }
            self.state = State::Done;
        }
        r
    }

    fn check_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::Done => Err(Error::InvalidState("the message is already finished")),
            State::Failed => Err(Error::InvalidState("the encryptor failed earlier")),
        }
    }

    fn after(&mut self, r: Result<()>, start: usize, out: &mut Vec<u8>) -> Result<()> {
        match r {
            Ok(()) => {
                if let Some(s) = self.signer.as_mut() {
                    s.update(&out[start..]);
                }
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if self.header_pending {
            out.extend_from_slice(&self.header);
            self.header_pending = false;
        }
    }

    fn next_seq(&mut self) -> Result<u32> {
        let s = self.seq;
        if s == FINAL_FRAME_MARKER {
            return Err(Error::LimitExceeded {
                limit: crate::error::Limit::FrameCount,
                max: u64::from(u32::MAX - 1),
                found: u64::from(u32::MAX),
            });
        }
        self.seq += 1;
        Ok(s)
    }

    fn seal_regular(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let seq = self.next_seq()?;
        let iv = body::frame_iv(seq);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&iv);
        self.seal_into(BodyAadKind::Frame, seq, &iv, plaintext, out)
    }

    fn seal_final(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let seq = self.next_seq()?;
        let iv = body::frame_iv(seq);
        out.extend_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
        self.seal_into(BodyAadKind::FinalFrame, seq, &iv, plaintext, out)
    }

    fn seal_into(
        &mut self,
        kind: BodyAadKind,
        seq: u32,
        iv: &[u8; IV_LEN],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        body::body_aad(
            &mut self.aad,
            &self.message_id,
            kind,
            seq,
            plaintext.len() as u64,
        );
        let at = out.len();
        out.reserve(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.key.seal_in_place(iv, &self.aad, &mut out[at..])?;
        out.extend_from_slice(&tag);
        Ok(())
    }
}

/// The length of the footer this encryptor writes for a suite: a 2-byte
/// length plus a DER signature, which the signer always makes full length.
pub fn footer_len(suite: AlgorithmSuite) -> u64 {
    match suite.signature() {
        None => 0,
        Some(Curve::P256) => 2 + 71,
        Some(Curve::P384) => 2 + 103,
    }
}

/// The length of the message that encrypting `plaintext_len` bytes with
/// these options and this keyring produces, before any key is generated.
/// Exact, as for [`Encryptor::ciphertext_length`]. `None` if the keyring
/// cannot tell its encrypted data keys' sizes.
pub fn ciphertext_length(
    plaintext_len: u64,
    options: &EncryptOptions,
    keyring: &dyn Keyring,
) -> Result<Option<u64>> {
    let suite = options
        .suite
        .unwrap_or_else(|| options.commitment_policy.default_suite());
    options.commitment_policy.check_encrypt(suite)?;
    let Some(shapes) = keyring.encrypted_data_key_shapes(suite) else {
        return Ok(None);
    };
    let mut stored = options.encryption_context.clone();
    for k in &options.required_encryption_context_keys {
        stored.remove(k);
    }
    if let Some(curve) = suite.signature() {
        let b64_len = match curve {
            Curve::P256 => 44,
            Curve::P384 => 68,
        };
        stored.insert(PUBLIC_KEY_FIELD, "A".repeat(b64_len));
    }
    let ec_len = stored.serialize()?.len() as u64;
    let edks: u64 = shapes
        .iter()
        .map(|s| 6 + (s.provider_id + s.provider_info + s.ciphertext) as u64)
        .sum();
    let common = 2 + suite.message_id_len() as u64 + 2 + ec_len + 2 + edks + 1 + 4;
    let header = if suite.message_format_version() == 2 {
        1 + common + suite.suite_data_len() as u64 + TAG_LEN as u64
    } else {
        2 + common + 5 + (IV_LEN + TAG_LEN) as u64
    };
    Ok(body::framed_body_len(plaintext_len, options.frame_length)
        .map(|b| header + b + footer_len(suite)))
}
