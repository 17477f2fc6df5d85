//! The sans-I/O decryptor: push message bytes in chunks of any size; it
//! releases plaintext one frame at a time, only after that frame's tag has
//! verified, and never before the header is authenticated and the key
//! commitment checked. For signed suites the final frame (or non-framed body)
//! is released only once the footer signature has verified.

use std::sync::Arc;

use base64::Engine;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::body::{self, BodyAadKind, FINAL_FRAME_MARKER};
use crate::context::{EncryptionContext, PUBLIC_KEY_FIELD};
use crate::crypto::{AeadKey, CryptoProvider, Verifier};
use crate::error::{Error, Limit, Result};
use crate::header::{ContentType, Header, Limits, ParsedHeader};
use crate::keyring::Keyring;
use crate::materials::{provider_or_default, DecryptionMaterials, EncryptedDataKey};
use crate::suite::{CommitmentPolicy, IV_LEN, TAG_LEN};

/// Options of a decryption.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct DecryptOptions {
    /// The commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// Refuse signed messages (the official SDKs' unsigned-only streaming mode).
    pub unsigned_only: bool,
    /// The reproduced encryption context: stored pairs must match it, and its
    /// other pairs are authenticated as required encryption context.
    pub encryption_context: EncryptionContext,
    /// Parsing limits.
    pub limits: Limits,
    /// The crypto backend; `None` is the default backend.
    pub provider: Option<Arc<dyn CryptoProvider>>,
}

impl core::fmt::Debug for DecryptOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptOptions")
            .field("commitment_policy", &self.commitment_policy)
            .field("unsigned_only", &self.unsigned_only)
            .field("encryption_context", &self.encryption_context)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What the decryptor needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// More message bytes.
    NeedInput,
    /// Decryption materials: see [`Decryptor::materials_request`].
    NeedMaterials,
    /// The message is complete and authentic.
    Done,
}

enum State {
    Header,
    NeedMaterials,
    Frames,
    NonFramed,
    Footer,
    Done,
    Failed,
}

/// Decrypts one message.
pub struct Decryptor {
    options: DecryptOptions,
    provider: Arc<dyn CryptoProvider>,
    state: State,
    buf: Vec<u8>,
    parsed: Option<ParsedHeader>,
    header_bytes: Vec<u8>,
    full_context: EncryptionContext,
    required_keys: Vec<String>,
    key: Option<Box<dyn AeadKey>>,
    verifier: Option<Box<dyn Verifier>>,
    seq: u32,
    body_len: u64,
    aad: Vec<u8>,
    /// Signed suites: the plaintext of the final frame (or non-framed body),
    /// held until the signature verifies (`client-apis/decrypt.md`).
    held: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("header", &self.parsed.as_ref().map(|p| &p.header))
            .finish_non_exhaustive()
    }
}

/// Bytes needed before a body unit's length is known.
const FINAL_FRAME_PREFIX: usize = 4 + 4 + IV_LEN + 4;
const NON_FRAMED_PREFIX: usize = IV_LEN + 8;
/// The largest non-framed content the format allows.
const MAX_NON_FRAMED: u64 = (1 << 36) - 32;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Decryptor {
    /// A decryptor with these options.
    pub fn new(options: DecryptOptions) -> Self {
        let provider = provider_or_default(options.provider.clone());
        Self {
            options,
            provider,
            state: State::Header,
            buf: Vec::new(),
            parsed: None,
            header_bytes: Vec::new(),
            full_context: EncryptionContext::new(),
            required_keys: Vec::new(),
            key: None,
            verifier: None,
            seq: 1,
            body_len: 0,
            aad: Vec::with_capacity(128),
            held: Zeroizing::new(Vec::new()),
        }
    }

    /// The header, once parsed (it is authenticated only once the status has
    /// moved past [`Status::NeedMaterials`]).
    pub fn header(&self) -> Option<&Header> {
        self.parsed.as_ref().map(|p| &p.header)
    }

    /// The whole encryption context (stored plus required pairs).
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.full_context
    }

    /// Whether the message has been completely read and verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Push message bytes; verified plaintext is appended to `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Status> {
        let r = self.update_inner(input, out);
        self.guard(r)
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.state = State::Failed;
            self.buf.clear();
            self.key = None;
            self.held = Zeroizing::new(Vec::new());
        }
        r
    }

    fn status(&self) -> Status {
        match self.state {
            State::NeedMaterials => Status::NeedMaterials,
            State::Done => Status::Done,
            _ => Status::NeedInput,
        }
    }

    fn update_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<Status> {
        match self.state {
            State::Failed => return Err(Error::InvalidState("the decryptor failed earlier")),
            State::NeedMaterials => {
                self.buf.extend_from_slice(input);
                return Ok(Status::NeedMaterials);
            }
            _ => {}
        }
        // First what is buffered: a partial header takes all the input (it is
        // bounded by the header size limit), a partial body unit is completed
        // below.
        if !self.buf.is_empty() {
            if matches!(self.state, State::Header) {
                self.buf.extend_from_slice(input);
                input = &[];
            }
            self.process_buffered(out)?;
            if matches!(self.state, State::NeedMaterials) {
                self.buf.extend_from_slice(input);
                return Ok(Status::NeedMaterials);
            }
        }
        while !input.is_empty() {
            if self.buf.is_empty() {
                // Work straight from the input; keep only an incomplete unit.
                let n = self.process(input, out)?;
                self.buf.extend_from_slice(&input[n..]);
                break;
            }
            // Complete the partial body unit in `buf`, copying no more than it needs.
            let want = match self.unit_len(&self.buf)? {
                Some(total) => total.saturating_sub(self.buf.len()).max(1),
                None => FINAL_FRAME_PREFIX.saturating_sub(self.buf.len()).max(1),
            };
            let take = want.min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            self.process_buffered(out)?;
        }
        Ok(self.status())
    }

    /// Process the buffered bytes and drop what was consumed.
    fn process_buffered(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let buf = core::mem::take(&mut self.buf);
        let r = self.process(&buf, out);
        self.buf = buf;
        let n = r?;
        self.buf.drain(..n);
        Ok(())
    }

    /// The total length of the next body unit, if `data` shows it yet.
    fn unit_len(&self, data: &[u8]) -> Result<Option<usize>> {
        let frame_length = self.parsed.as_ref().map_or(0, |p| p.header.frame_length) as usize;
        Ok(match self.state {
            State::Frames => {
                if data.len() < 4 {
                    None
                } else if u32_at(data, 0) != FINAL_FRAME_MARKER {
                    Some(4 + IV_LEN + frame_length + TAG_LEN)
                } else if data.len() < FINAL_FRAME_PREFIX {
                    None
                } else {
                    let len = u32_at(data, 20) as usize;
                    if len > frame_length {
                        return Err(Error::Malformed("final frame longer than the frame length"));
                    }
                    Some(FINAL_FRAME_PREFIX + len + TAG_LEN)
                }
            }
            State::NonFramed => {
                if data.len() < NON_FRAMED_PREFIX {
                    None
                } else {
                    let mut l = [0u8; 8];
                    l.copy_from_slice(&data[IV_LEN..IV_LEN + 8]);
                    let len = u64::from_be_bytes(l);
                    if len > MAX_NON_FRAMED {
                        return Err(Error::Malformed("non-framed content too long"));
                    }
                    if len > self.options.limits.max_frame_length {
                        return Err(Error::LimitExceeded {
                            limit: Limit::FrameLength,
                            max: self.options.limits.max_frame_length,
                            found: len,
                        });
                    }
                    Some(NON_FRAMED_PREFIX + len as usize + TAG_LEN)
                }
            }
            State::Footer => {
                if data.len() < 2 {
                    None
                } else {
                    Some(2 + u16::from_be_bytes([data[0], data[1]]) as usize)
                }
            }
            _ => None,
        })
    }

    /// Consume as many whole units from `data` as possible; returns how many
    /// bytes were consumed.
    fn process(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            match self.state {
                State::Header => match Header::parse(rest, &self.options.limits)? {
                    None => return Ok(pos),
                    Some(p) => {
                        self.header_bytes = rest[..p.total_len].to_vec();
                        pos += p.total_len;
                        self.on_header(p)?;
                    }
                },
                State::NeedMaterials => return Ok(pos),
                State::Done => {
                    if rest.is_empty() {
                        return Ok(pos);
                    }
                    return Err(Error::TrailingData);
                }
                State::Failed => return Err(Error::InvalidState("the decryptor failed earlier")),
                State::Frames | State::NonFramed | State::Footer => {
                    let Some(total) = self.unit_len(rest)? else {
                        return Ok(pos);
                    };
                    if rest.len() < total {
                        return Ok(pos);
                    }
                    self.unit(&rest[..total], out)?;
                    pos += total;
                }
            }
        }
    }

    fn on_header(&mut self, p: ParsedHeader) -> Result<()> {
        let h = &p.header;
        self.options.commitment_policy.check_decrypt(h.suite)?;
        if self.options.unsigned_only && h.suite.is_signed() {
            return Err(Error::SignedMessageRefused);
        }
        let has_pk = h.encryption_context.contains_key(PUBLIC_KEY_FIELD);
        if h.suite.is_signed() != has_pk {
            return Err(Error::Malformed(if has_pk {
                "an unsigned suite carries a signature public key"
            } else {
                "a signed suite lacks its signature public key"
            }));
        }
        let mut full = h.encryption_context.clone();
        let mut required = Vec::new();
        for (k, v) in self.options.encryption_context.iter() {
            match h.encryption_context.get(k) {
                Some(stored) if stored == v => {}
                Some(_) => {
                    return Err(Error::EncryptionContext(format!(
                        "the value of {k:?} does not match the message"
                    )))
                }
                None => {
                    if k == PUBLIC_KEY_FIELD {
                        return Err(Error::EncryptionContext(format!(
                            "the key {PUBLIC_KEY_FIELD} is reserved"
                        )));
                    }
                    full.insert(k, v);
                    required.push(k.to_string());
                }
            }
        }
        self.full_context = full;
        self.required_keys = required;
        self.parsed = Some(p);
        self.state = State::NeedMaterials;
        Ok(())
    }

    /// The materials to hand a keyring, and the encrypted data keys, while
    /// the status is [`Status::NeedMaterials`].
    pub fn materials_request(&self) -> Option<(DecryptionMaterials, &[EncryptedDataKey])> {
        if !matches!(self.state, State::NeedMaterials) {
            return None;
        }
        let h = &self.parsed.as_ref()?.header;
        Some((
            DecryptionMaterials {
                suite: h.suite,
                encryption_context: self.full_context.clone(),
                required_encryption_context_keys: self.required_keys.clone(),
                plaintext_data_key: None,
            },
            &h.encrypted_data_keys,
        ))
    }

    /// Supply the materials a keyring returned. Checks the key commitment and
    /// the header authentication before any body byte is decrypted.
    pub fn supply_materials(&mut self, materials: DecryptionMaterials) -> Result<()> {
        let r = self.supply_inner(materials);
        self.guard(r)
    }

    fn supply_inner(&mut self, materials: DecryptionMaterials) -> Result<()> {
        if !matches!(self.state, State::NeedMaterials) {
            return Err(Error::InvalidState("materials were not requested"));
        }
        let p = self
            .parsed
            .as_ref()
            .ok_or(Error::InvalidState("no header"))?;
        let h = &p.header;
        let data_key = materials
            .plaintext_data_key
            .as_ref()
            .ok_or(Error::NoDecryptableKey)?;
        let keys = body::derive_keys(
            self.provider.as_ref(),
            h.suite,
            data_key.expose(),
            &h.message_id,
        )?;
        if let Some(commit) = &keys.commit_key {
            if !bool::from(commit.expose().ct_eq(&h.suite_data)) {
                return Err(Error::CommitmentMismatch);
            }
        }
        let mut aad = self.header_bytes[..p.body_len].to_vec();
        let required: EncryptionContext = self
            .required_keys
            .iter()
            .filter_map(|k| self.full_context.get(k).map(|v| (k.clone(), v.to_string())))
            .collect();
        required.serialize_into(&mut aad)?;
        keys.content_key
            .open_in_place(&p.auth.iv, &aad, &mut [], &p.auth.tag)
            .map_err(|_| Error::HeaderAuthFailed)?;
        if let Some(curve) = h.suite.signature() {
            let pk_b64 = h
                .encryption_context
                .get(PUBLIC_KEY_FIELD)
                .unwrap_or_default();
            let pk = base64::engine::general_purpose::STANDARD
                .decode(pk_b64)
                .map_err(|_| Error::Malformed("signature public key is not base64"))?;
            let mut v = self.provider.verifier(curve, &pk)?;
            v.update(&self.header_bytes);
            self.verifier = Some(v);
        }
        self.state = match h.content_type {
            ContentType::Framed => State::Frames,
            ContentType::NonFramed => State::NonFramed,
        };
        self.key = Some(keys.content_key);
        Ok(())
    }

    fn count_body(&mut self, n: usize) -> Result<()> {
        self.body_len += n as u64;
        if let Some(max) = self.options.limits.max_body_size {
            if self.body_len > max {
                return Err(Error::LimitExceeded {
                    limit: Limit::BodySize,
                    max,
                    found: self.body_len,
                });
            }
        }
        Ok(())
    }

    /// Handle one whole body unit (a frame, a non-framed body or the footer).
    fn unit(&mut self, u: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if let State::Footer = self.state {
            let v = self
                .verifier
                .take()
                .ok_or(Error::InvalidState("no verifier"))?;
            v.verify(&u[2..])?;
            out.extend_from_slice(&self.held);
            self.held = Zeroizing::new(Vec::new());
            self.state = State::Done;
            return Ok(());
        }
        self.count_body(u.len())?;
        let message_id = &self
            .parsed
            .as_ref()
            .ok_or(Error::InvalidState("no header"))?
            .header
            .message_id;
        let (kind, seq, iv_at, ct_at) = match self.state {
            State::NonFramed => (BodyAadKind::SingleBlock, 1, 0, NON_FRAMED_PREFIX),
            _ if u32_at(u, 0) == FINAL_FRAME_MARKER => {
                (BodyAadKind::FinalFrame, u32_at(u, 4), 8, FINAL_FRAME_PREFIX)
            }
            _ => (BodyAadKind::Frame, u32_at(u, 0), 4, 4 + IV_LEN),
        };
        if kind != BodyAadKind::SingleBlock && seq != self.seq {
            return Err(Error::Malformed("frame sequence number out of order"));
        }
        if kind == BodyAadKind::FinalFrame && seq == FINAL_FRAME_MARKER {
            return Err(Error::Malformed("frame sequence number out of range"));
        }
        let ct = &u[ct_at..u.len() - TAG_LEN];
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&u[iv_at..iv_at + IV_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&u[u.len() - TAG_LEN..]);
        body::body_aad(&mut self.aad, message_id, kind, seq, ct.len() as u64);
        if let Some(v) = self.verifier.as_mut() {
            v.update(u);
        }
        let at = out.len();
        out.extend_from_slice(ct);
        let key = self.key.as_ref().ok_or(Error::InvalidState("no key"))?;
        if key
            .open_in_place(&iv, &self.aad, &mut out[at..], &tag)
            .is_err()
        {
            out[at..].fill(0);
            out.truncate(at);
            return Err(Error::BodyAuthFailed);
        }
        if kind == BodyAadKind::Frame {
            self.seq = self.seq.wrapping_add(1);
        } else if self.verifier.is_some() {
            // Not released before the signature verifies.
            self.held = Zeroizing::new(out[at..].to_vec());
            out[at..].fill(0);
            out.truncate(at);
            self.state = State::Footer;
        } else {
            self.state = State::Done;
        }
        Ok(())
    }

    /// End of input: an error unless the whole message was read and verified.
    pub fn finish(&mut self) -> Result<()> {
        let r = match self.state {
            State::Done => Ok(()),
            State::Failed => Err(Error::InvalidState("the decryptor failed earlier")),
            _ => Err(Error::Truncated),
        };
        self.guard(r)
    }

    /// [`update`](Self::update), asking `keyring` for materials when needed.
    pub async fn update_with(
        &mut self,
        keyring: &dyn Keyring,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Status> {
        let status = self.update(input, out)?;
        if status != Status::NeedMaterials {
            return Ok(status);
        }
        let Some((materials, edks)) = self.materials_request() else {
            return Err(Error::InvalidState("no materials request"));
        };
        let edks = edks.to_vec();
        let r = keyring.on_decrypt(materials, &edks).await;
        let materials = self.guard(r)?;
        self.supply_materials(materials)?;
        self.update(&[], out)
    }
}
