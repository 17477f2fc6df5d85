//! Detached body AEAD: the header, key derivation, key commitment, header
//! authentication, framing and signatures stay in Rust, while the per-frame
//! AES-GCM calls may run elsewhere (WebCrypto in a browser, one call per
//! frame with a non-extractable key).
//!
//! [`DetachedEncryptor`] and [`DetachedDecryptor`] drive the core
//! [`Encryptor`] and [`Decryptor`] for the header through a provider wrapper
//! that captures the derived content key, so their headers, commitment checks
//! and header authentication are exactly the core's. The decryptor hands out
//! the content key only after the commitment and the header tag verified.
//!
//! Each frame is a small protocol:
//!
//! * encrypt: [`DetachedEncryptor::begin_frame`] gives the bytes that precede
//!   the ciphertext, the IV and the AAD; the caller seals the plaintext (or
//!   calls [`DetachedEncryptor::seal_frame`]) and reports the result with
//!   [`DetachedEncryptor::end_frame`]; then [`DetachedEncryptor::finish`]
//!   gives the footer of signed suites.
//! * decrypt: [`DetachedDecryptor::push_header`], then materials, then
//!   [`DetachedDecryptor::next_unit`] with the first bytes of each body unit;
//!   the caller opens `ciphertext || tag` with the IV and AAD and calls
//!   [`DetachedDecryptor::frame_ok`] only if the tag verified (or calls
//!   [`DetachedDecryptor::open_unit`]). A failed frame must release nothing.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::body::{self, BodyAadKind, FINAL_FRAME_MARKER};
use crate::crypto::{AeadKey, CryptoProvider, Signer, Verifier};
use crate::decrypt::DecryptOptions;
use crate::encrypt::{footer_len, EncryptOptions, Encryptor};
use crate::error::{Error, Limit, Result};
use crate::header::{Header, Limits};
use crate::keyring::Keyring;
use crate::materials::provider_or_default;
use crate::secret::SecretBytes;
use crate::suite::{AlgorithmSuite, Curve, HashAlg, IV_LEN, TAG_LEN};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Slot<T> = Arc<Mutex<Option<T>>>;

/// A provider that records the content key it is asked to build and shares
/// the signer or verifier it creates.
struct Capture {
    inner: Arc<dyn CryptoProvider>,
    key: Mutex<Option<SecretBytes>>,
    keys_seen: Mutex<usize>,
    signer: Mutex<Option<Slot<Box<dyn Signer>>>>,
    verifier: Mutex<Option<Slot<Box<dyn Verifier>>>>,
}

impl Capture {
    fn new(inner: Arc<dyn CryptoProvider>) -> Self {
        Self {
            inner,
            key: Mutex::new(None),
            keys_seen: Mutex::new(0),
            signer: Mutex::new(None),
            verifier: Mutex::new(None),
        }
    }

    fn take_key(&self) -> Result<SecretBytes> {
        if *lock(&self.keys_seen) != 1 {
            return Err(Error::InvalidState("expected exactly one content key"));
        }
        lock(&self.key)
            .take()
            .ok_or(Error::InvalidState("no content key"))
    }
}

impl CryptoProvider for Capture {
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>> {
        *lock(&self.keys_seen) += 1;
        *lock(&self.key) = Some(SecretBytes::from_slice(key));
        self.inner.aead_key(key)
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<()> {
        self.inner.hkdf(hash, ikm, salt, info, okm)
    }
    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        self.inner.fill_random(buf)
    }
    fn signer(&self, curve: Curve) -> Result<Box<dyn Signer>> {
        let s = self.inner.signer(curve)?;
        let public_key = s.public_key();
        let slot = Arc::new(Mutex::new(Some(s)));
        *lock(&self.signer) = Some(slot.clone());
        Ok(Box::new(SharedSigner { slot, public_key }))
    }
    fn verifier(&self, curve: Curve, public_key: &[u8]) -> Result<Box<dyn Verifier>> {
        let slot = Arc::new(Mutex::new(Some(self.inner.verifier(curve, public_key)?)));
        *lock(&self.verifier) = Some(slot.clone());
        Ok(Box::new(SharedVerifier(slot)))
    }
}

struct SharedSigner {
    slot: Slot<Box<dyn Signer>>,
    public_key: Vec<u8>,
}

impl Signer for SharedSigner {
    fn update(&mut self, data: &[u8]) {
        if let Some(s) = lock(&self.slot).as_mut() {
            s.update(data);
        }
    }
    fn public_key(&self) -> Vec<u8> {
        self.public_key.clone()
    }
    fn sign(self: Box<Self>) -> Result<Vec<u8>> {
        let s = lock(&self.slot).take();
        s.ok_or(Error::InvalidState("the signer was already used"))?
            .sign()
    }
}

struct SharedVerifier(Slot<Box<dyn Verifier>>);

impl Verifier for SharedVerifier {
    fn update(&mut self, data: &[u8]) {
        if let Some(v) = lock(&self.0).as_mut() {
            v.update(data);
        }
    }
    fn verify(self: Box<Self>, der_signature: &[u8]) -> Result<()> {
        let v = lock(&self.0).take();
        v.ok_or(Error::InvalidState("the verifier was already used"))?
            .verify(der_signature)
    }
}

fn take_slot<T>(slot: &Mutex<Option<Slot<T>>>) -> Option<T> {
    let s = lock(slot).take()?;
    let v = lock(&s).take();
    v
}

/// What the caller needs to seal or open one frame.
#[derive(Debug, Default)]
pub struct FrameSpec {
    /// The bytes before the ciphertext (sequence number, IV, length fields).
    pub prefix: Vec<u8>,
    /// The AES-GCM IV.
    pub iv: [u8; IV_LEN],
    /// The AES-GCM additional data.
    pub aad: Vec<u8>,
    /// Plaintext (= ciphertext) length of the frame, without the tag.
    pub len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EncState {
    Open,
    Sealing { last: bool },
    Sealed,
    Done,
    Failed,
}

/// Encrypts one message whose frame AEAD runs outside this type.
pub struct DetachedEncryptor {
    suite: AlgorithmSuite,
    message_id: Vec<u8>,
    frame_length: u32,
    header: Vec<u8>,
    content_key: SecretBytes,
    aead: Box<dyn AeadKey>,
    signer: Option<Box<dyn Signer>>,
    seq: u32,
    state: EncState,
    frame: FrameSpec,
}

impl core::fmt::Debug for DetachedEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DetachedEncryptor")
            .field("suite", &self.suite)
            .field("frame_length", &self.frame_length)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl DetachedEncryptor {
    /// Get materials from `keyring` and build the header exactly as
    /// [`Encryptor::new`] does.
    pub async fn new(keyring: &dyn Keyring, options: &EncryptOptions) -> Result<Self> {
        let inner = provider_or_default(options.provider.clone());
        let cap = Arc::new(Capture::new(inner.clone()));
        let mut opts = options.clone();
        opts.provider = Some(cap.clone());
        let mut enc = Encryptor::new(keyring, &opts).await?;
        let mut header = Vec::new();
        enc.update(&[], &mut header)?;
        let suite = enc.suite();
        drop(enc);
        let content_key = cap.take_key()?;
        let signer = take_slot(&cap.signer);
        if signer.is_some() != suite.is_signed() {
            return Err(Error::InvalidState("signer mismatch"));
        }
        let parsed = Header::parse(&header, &Limits::default())?
            .ok_or(Error::InvalidState("incomplete header"))?;
        let aead = inner.aead_key(content_key.expose())?;
        Ok(Self {
            suite,
            message_id: parsed.header.message_id,
            frame_length: options.frame_length,
            header,
            content_key,
            aead,
            signer,
            seq: 1,
            state: EncState::Open,
            frame: FrameSpec::default(),
        })
    }

    /// The suite of the message.
    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The frame length.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// The serialised header (already fed to the signer of signed suites).
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// The derived AES-GCM content key. Import it where the frame AEAD runs
    /// and drop every other copy.
    pub fn content_key(&self) -> &SecretBytes {
        &self.content_key
    }

    /// The whole message length for `plaintext_len` bytes (an upper bound
    /// for signed suites); `None` if too many frames.
    pub fn ciphertext_length(&self, plaintext_len: u64) -> Option<u64> {
        let body = body::framed_body_len(plaintext_len, self.frame_length)?;
        Some(self.header.len() as u64 + body + footer_len(self.suite))
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.state = EncState::Failed;
        Err(e)
    }

    /// Start the next frame of `len` plaintext bytes. Regular frames are
    /// exactly the frame length; the final frame (`last`) is at most that.
    pub fn begin_frame(&mut self, len: usize, last: bool) -> Result<&FrameSpec> {
        if self.state != EncState::Open {
            return Err(Error::InvalidState("a frame cannot start now"));
        }
        let f = self.frame_length as usize;
        if (!last && len != f) || len > f {
            return self.fail(Error::InvalidArgument(format!(
                "frame of {len} bytes with frame length {f}"
            )));
        }
        let seq = self.seq;
        if seq == FINAL_FRAME_MARKER {
            return self.fail(Error::LimitExceeded {
                limit: Limit::FrameCount,
                max: u64::from(u32::MAX - 1),
                found: u64::from(u32::MAX),
            });
        }
        self.seq += 1;
        let iv = body::frame_iv(seq);
        let p = &mut self.frame.prefix;
        p.clear();
        if last {
            p.extend_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
        }
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&iv);
        if last {
            p.extend_from_slice(&(len as u32).to_be_bytes());
        }
        let kind = if last {
            BodyAadKind::FinalFrame
        } else {
            BodyAadKind::Frame
        };
        body::body_aad(&mut self.frame.aad, &self.message_id, kind, seq, len as u64);
        self.frame.iv = iv;
        self.frame.len = len;
        self.state = EncState::Sealing { last };
        Ok(&self.frame)
    }

    /// Seal the current frame with the Rust backend: `buf` holds the
    /// plaintext and becomes `ciphertext || tag`. Ends the frame.
    pub fn seal_frame(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        if !matches!(self.state, EncState::Sealing { .. }) || buf.len() != self.frame.len {
            return self.fail(Error::InvalidState("no frame of this length is open"));
        }
        match self
            .aead
            .seal_in_place(&self.frame.iv, &self.frame.aad, buf)
        {
            Ok(tag) => buf.extend_from_slice(&tag),
            Err(e) => return self.fail(e),
        }
        self.end_frame(Some(buf))
    }

    /// The current frame was sealed elsewhere. Signed suites must pass
    /// `ciphertext || tag`, which is hashed after the frame's prefix.
    pub fn end_frame(&mut self, sealed: Option<&[u8]>) -> Result<()> {
        let EncState::Sealing { last } = self.state else {
            return self.fail(Error::InvalidState("no frame is open"));
        };
        if let Some(s) = self.signer.as_mut() {
            match sealed {
                Some(b) if b.len() == self.frame.len + TAG_LEN => {
                    s.update(&self.frame.prefix);
                    s.update(b);
                }
                _ => {
                    return self.fail(Error::InvalidArgument(
                        "a signed suite needs the sealed frame".into(),
                    ))
                }
            }
        }
        self.state = if last {
            EncState::Sealed
        } else {
            EncState::Open
        };
        Ok(())
    }

    /// After the final frame: the footer (empty for unsigned suites).
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        if self.state != EncState::Sealed {
            return Err(Error::InvalidState("the final frame is not sealed"));
        }
        let mut out = Vec::new();
        if let Some(signer) = self.signer.take() {
            let sig = match signer.sign() {
                Ok(s) => s,
                Err(e) => return self.fail(e),
            };
            out.extend_from_slice(&(sig.len() as u16).to_be_bytes());
            out.extend_from_slice(&sig);
        }
        self.state = EncState::Done;
        Ok(out)
    }
}

/// The kind of a body unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    /// A regular frame.
    Frame,
    /// The final frame.
    FinalFrame,
    /// A non-framed body.
    SingleBlock,
    /// The footer (signature) of a signed message.
    Footer,
}

/// Where the next body unit lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitInfo {
    /// What the unit is.
    pub kind: UnitKind,
    /// Its whole length in bytes.
    pub total_len: u64,
    /// Offset of the ciphertext (or the signature) in the unit.
    pub ct_offset: usize,
    /// Length of the ciphertext without tag (or of the signature).
    pub ct_len: u64,
}

mod dec;
pub use dec::DetachedDecryptor;

fn capture_options(options: &DecryptOptions) -> (DecryptOptions, Arc<Capture>) {
    let inner = provider_or_default(options.provider.clone());
    let cap = Arc::new(Capture::new(inner));
    let mut opts = options.clone();
    opts.provider = Some(cap.clone());
    (opts, cap)
}

#[cfg(test)]
mod tests;

/// A readable id of an encrypted data key's wrapping key: `provider id/key
/// name`. The raw AES keyring's provider info ends with the tag length, IV
/// length and IV, which are left out; other provider infos are taken as text
/// (the raw RSA key name, a KMS key ARN).
pub fn key_id(edk: &crate::materials::EncryptedDataKey) -> String {
    let info = &edk.provider_info;
    let tail = 8 + IV_LEN;
    let name = if info.len() >= tail
        && info[info.len() - tail..info.len() - IV_LEN]
            == [0, 0, 0, (TAG_LEN * 8) as u8, 0, 0, 0, IV_LEN as u8]
    {
        &info[..info.len() - tail]
    } else {
        &info[..]
    };
    format!(
        "{}/{}",
        edk.provider_id_str(),
        String::from_utf8_lossy(name)
    )
}
