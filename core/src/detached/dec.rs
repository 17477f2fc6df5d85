//! The detached decryptor.

use std::sync::Arc;

use super::{capture_options, take_slot, Capture, UnitInfo, UnitKind};
use crate::body::{self, BodyAadKind, FINAL_FRAME_MARKER};
use crate::crypto::{AeadKey, Verifier};
use crate::decrypt::{DecryptOptions, Decryptor, Status};
use crate::error::{Error, Limit, Result};
use crate::header::{ContentType, Header, Limits};
use crate::materials::{DecryptionMaterials, EncryptedDataKey};
use crate::secret::SecretBytes;
use crate::suite::{IV_LEN, TAG_LEN};
use crate::EncryptionContext;

const REGULAR_PREFIX: usize = 4 + IV_LEN;
const FINAL_PREFIX: usize = 4 + 4 + IV_LEN + 4;
const NON_FRAMED_PREFIX: usize = IV_LEN + 8;
const MAX_NON_FRAMED: u64 = (1 << 36) - 32;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    NeedMaterials,
    Body,
    Opening,
    Footer,
    Signature,
    Done,
    Failed,
}

/// Decrypts one message whose frame AEAD runs outside this type.
pub struct DetachedDecryptor {
    dec: Decryptor,
    cap: Arc<Capture>,
    limits: Limits,
    header_buf: Vec<u8>,
    stage: Stage,
    content_key: Option<SecretBytes>,
    aead: Option<Box<dyn AeadKey>>,
    verifier: Option<Box<dyn Verifier>>,
    message_id: Vec<u8>,
    frame_length: u32,
    framed: bool,
    seq: u32,
    body_len: u64,
    unit: Option<UnitInfo>,
    iv: [u8; IV_LEN],
    aad: Vec<u8>,
    absorbed: u64,
}

impl core::fmt::Debug for DetachedDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DetachedDecryptor")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl DetachedDecryptor {
    /// A decryptor with these options.
    pub fn new(options: &DecryptOptions) -> Self {
        let (opts, cap) = capture_options(options);
        Self {
            limits: opts.limits,
            dec: Decryptor::new(opts),
            cap,
            header_buf: Vec::new(),
            stage: Stage::Header,
            content_key: None,
            aead: None,
            verifier: None,
            message_id: Vec::new(),
            frame_length: 0,
            framed: true,
            seq: 1,
            body_len: 0,
            unit: None,
            iv: [0; IV_LEN],
            aad: Vec::with_capacity(128),
            absorbed: 0,
        }
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.stage = Stage::Failed;
            self.content_key = None;
            self.aead = None;
            self.verifier = None;
            self.header_buf.clear();
        }
        r
    }

    /// Push the start of the message. `Ok(None)`: all of `data` was taken
    /// and more is needed; `Ok(Some(n))`: the header is complete and ended
    /// after `n` bytes of `data`; the rest is body, for [`Self::next_unit`].
    pub fn push_header(&mut self, data: &[u8]) -> Result<Option<usize>> {
        let r = self.push_header_inner(data);
        self.guard(r)
    }

    fn push_header_inner(&mut self, data: &[u8]) -> Result<Option<usize>> {
        if self.stage != Stage::Header {
            return Err(Error::InvalidState("the header is already complete"));
        }
        let before = self.header_buf.len();
        self.header_buf.extend_from_slice(data);
        let Some(p) = Header::parse(&self.header_buf, &self.limits)? else {
            return Ok(None);
        };
        let total = p.total_len;
        let mut out = Vec::new();
        let status = self.dec.update(&self.header_buf[..total], &mut out)?;
        if status != Status::NeedMaterials || !out.is_empty() {
            return Err(Error::InvalidState("unexpected decryptor status"));
        }
        self.header_buf.clear();
        self.stage = Stage::NeedMaterials;
        Ok(Some(total - before))
    }

    /// The header, once parsed (authenticated once materials were supplied).
    pub fn header(&self) -> Option<&Header> {
        self.dec.header()
    }

    /// The whole encryption context (stored plus required pairs).
    pub fn encryption_context(&self) -> &EncryptionContext {
        self.dec.encryption_context()
    }

    /// The materials to hand a keyring and the encrypted data keys.
    pub fn materials_request(&self) -> Option<(DecryptionMaterials, Vec<EncryptedDataKey>)> {
        let (m, edks) = self.dec.materials_request()?;
        Some((m, edks.to_vec()))
    }

    /// Supply a keyring's materials: checks the key commitment and the
    /// header authentication (in the core decryptor) before any body byte.
    pub fn supply_materials(&mut self, materials: DecryptionMaterials) -> Result<()> {
        let r = self.supply_inner(materials);
        self.guard(r)
    }

    fn supply_inner(&mut self, materials: DecryptionMaterials) -> Result<()> {
        if self.stage != Stage::NeedMaterials {
            return Err(Error::InvalidState("materials were not requested"));
        }
        self.dec.supply_materials(materials)?;
        let key = self.cap.take_key()?;
        self.verifier = take_slot(&self.cap.verifier);
        let h = self.dec.header().ok_or(Error::InvalidState("no header"))?;
        if h.suite.is_signed() != self.verifier.is_some() {
            return Err(Error::InvalidState("verifier mismatch"));
        }
        self.message_id = h.message_id.clone();
        self.frame_length = h.frame_length;
        self.framed = h.content_type == ContentType::Framed;
        self.aead = Some(self.cap.inner.aead_key(key.expose())?);
        self.content_key = Some(key);
        self.stage = Stage::Body;
        Ok(())
    }

    /// The content key, once the header is authenticated.
    pub fn content_key(&self) -> Option<&SecretBytes> {
        self.content_key.as_ref()
    }

    /// Whether the message is signed (every unit must then be [`absorb`](Self::absorb)ed).
    pub fn is_signed(&self) -> bool {
        self.verifier.is_some()
    }

    /// The IV of the current unit.
    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }

    /// The AAD of the current unit.
    pub fn aad(&self) -> &[u8] {
        &self.aad
    }

    /// Describe the next body unit from its first bytes (`head`, any length;
    /// 24 bytes always suffice). `Ok(None)`: more bytes are needed.
    /// Checks sequence numbers, lengths and limits. Once the message is
    /// complete, any further byte is [`Error::TrailingData`].
    pub fn next_unit(&mut self, head: &[u8]) -> Result<Option<UnitInfo>> {
        let r = self.next_unit_inner(head);
        self.guard(r)
    }

    fn next_unit_inner(&mut self, head: &[u8]) -> Result<Option<UnitInfo>> {
        let info = match self.stage {
            Stage::Done if head.is_empty() => return Ok(None),
            Stage::Done => return Err(Error::TrailingData),
            Stage::Footer => {
                if head.len() < 2 {
                    return Ok(None);
                }
                let n = u16::from_be_bytes([head[0], head[1]]) as u64;
                self.stage = Stage::Signature;
                self.absorbed = 0;
                let u = UnitInfo {
                    kind: UnitKind::Footer,
                    total_len: 2 + n,
                    ct_offset: 2,
                    ct_len: n,
                };
                self.unit = Some(u);
                return Ok(Some(u));
            }
            Stage::Body if !self.framed => {
                if head.len() < NON_FRAMED_PREFIX {
                    return Ok(None);
                }
                let mut l = [0u8; 8];
                l.copy_from_slice(&head[IV_LEN..IV_LEN + 8]);
                let len = u64::from_be_bytes(l);
                if len > MAX_NON_FRAMED {
                    return Err(Error::Malformed("non-framed content too long"));
                }
                if len > self.limits.max_frame_length {
                    return Err(Error::LimitExceeded {
                        limit: Limit::FrameLength,
                        max: self.limits.max_frame_length,
                        found: len,
                    });
                }
                self.iv.copy_from_slice(&head[..IV_LEN]);
                body::body_aad(
                    &mut self.aad,
                    &self.message_id,
                    BodyAadKind::SingleBlock,
                    1,
                    len,
                );
                UnitInfo {
                    kind: UnitKind::SingleBlock,
                    total_len: (NON_FRAMED_PREFIX + TAG_LEN) as u64 + len,
                    ct_offset: NON_FRAMED_PREFIX,
                    ct_len: len,
                }
            }
            Stage::Body => {
                if head.len() < 4 {
                    return Ok(None);
                }
                let last = u32_at(head, 0) == FINAL_FRAME_MARKER;
                let need = if last { FINAL_PREFIX } else { REGULAR_PREFIX };
                if head.len() < need {
                    return Ok(None);
                }
                let (seq, iv_at) = if last {
                    (u32_at(head, 4), 8)
                } else {
                    (u32_at(head, 0), 4)
                };
                if seq != self.seq {
                    return Err(Error::Malformed("frame sequence number out of order"));
                }
                if last && seq == FINAL_FRAME_MARKER {
                    return Err(Error::Malformed("frame sequence number out of range"));
                }
                let len = if last {
                    let l = u32_at(head, 20);
                    if l > self.frame_length {
                        return Err(Error::Malformed("final frame longer than the frame length"));
                    }
                    l
                } else {
                    self.frame_length
                };
                self.iv.copy_from_slice(&head[iv_at..iv_at + IV_LEN]);
                let kind = if last {
                    BodyAadKind::FinalFrame
                } else {
                    BodyAadKind::Frame
                };
                body::body_aad(&mut self.aad, &self.message_id, kind, seq, len.into());
                UnitInfo {
                    kind: if last {
                        UnitKind::FinalFrame
                    } else {
                        UnitKind::Frame
                    },
                    total_len: (need + TAG_LEN) as u64 + u64::from(len),
                    ct_offset: need,
                    ct_len: len.into(),
                }
            }
            Stage::Failed => return Err(Error::InvalidState("the decryptor failed earlier")),
            _ => return Err(Error::InvalidState("no body unit can start now")),
        };
        self.body_len += info.total_len;
        if let Some(max) = self.limits.max_body_size {
            if self.body_len > max {
                return Err(Error::LimitExceeded {
                    limit: Limit::BodySize,
                    max,
                    found: self.body_len,
                });
            }
        }
        self.unit = Some(info);
        self.absorbed = 0;
        self.stage = Stage::Opening;
        Ok(Some(info))
    }

    /// Signed messages: feed the bytes of the current unit, in order, to the
    /// signature hash. All of them must be fed before [`Self::frame_ok`].
    pub fn absorb(&mut self, bytes: &[u8]) -> Result<()> {
        let total = self.unit.map_or(0, |u| u.total_len);
        let r = match (&mut self.verifier, self.stage) {
            (Some(v), Stage::Opening) if self.absorbed + bytes.len() as u64 <= total => {
                v.update(bytes);
                self.absorbed += bytes.len() as u64;
                Ok(())
            }
            _ => Err(Error::InvalidState("nothing to absorb")),
        };
        self.guard(r)
    }

    /// The current unit's tag verified: move on.
    pub fn frame_ok(&mut self) -> Result<()> {
        let r = self.frame_ok_inner();
        self.guard(r)
    }

    fn frame_ok_inner(&mut self) -> Result<()> {
        let u = self.unit.ok_or(Error::InvalidState("no unit"))?;
        if self.stage != Stage::Opening {
            return Err(Error::InvalidState("no frame is being opened"));
        }
        if self.verifier.is_some() && self.absorbed != u.total_len {
            return Err(Error::InvalidState("a signed unit was not absorbed"));
        }
        self.stage = match u.kind {
            UnitKind::Frame => {
                self.seq = self.seq.wrapping_add(1);
                Stage::Body
            }
            _ if self.verifier.is_some() => Stage::Footer,
            _ => Stage::Done,
        };
        Ok(())
    }

    /// The current unit's tag did not verify: fail for good.
    pub fn frame_failed(&mut self) -> Error {
        let _ = self.guard::<()>(Err(Error::BodyAuthFailed));
        Error::BodyAuthFailed
    }

    /// Open the whole current unit with the Rust backend, appending the
    /// plaintext to `out` only if its tag verifies.
    pub fn open_unit(&mut self, unit: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let r = self.open_inner(unit, out);
        self.guard(r)
    }

    fn open_inner(&mut self, unit: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let u = self.unit.ok_or(Error::InvalidState("no unit"))?;
        if self.stage != Stage::Opening || unit.len() as u64 != u.total_len {
            return Err(Error::InvalidState("not the current unit"));
        }
        if let Some(v) = self.verifier.as_mut() {
            v.update(unit);
            self.absorbed = u.total_len;
        }
        let end = unit.len() - TAG_LEN;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&unit[end..]);
        let at = out.len();
        out.extend_from_slice(&unit[u.ct_offset..end]);
        let key = self.aead.as_ref().ok_or(Error::InvalidState("no key"))?;
        if key
            .open_in_place(&self.iv, &self.aad, &mut out[at..], &tag)
            .is_err()
        {
            out[at..].fill(0);
            out.truncate(at);
            return Err(Error::BodyAuthFailed);
        }
        self.frame_ok_inner()
    }

    /// Check the footer (the whole unit: length and DER signature).
    pub fn verify_footer(&mut self, unit: &[u8]) -> Result<()> {
        let r = self.verify_inner(unit);
        self.guard(r)
    }

    fn verify_inner(&mut self, unit: &[u8]) -> Result<()> {
        let u = self.unit.ok_or(Error::InvalidState("no unit"))?;
        if self.stage != Stage::Signature || unit.len() as u64 != u.total_len {
            return Err(Error::InvalidState("not the footer"));
        }
        let v = self
            .verifier
            .take()
            .ok_or(Error::InvalidState("no verifier"))?;
        v.verify(&unit[2..])?;
        self.stage = Stage::Done;
        Ok(())
    }

    /// Whether the whole message was read and verified.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// End of input: an error unless the message is complete and verified.
    pub fn finish(&mut self) -> Result<()> {
        let r = match self.stage {
            Stage::Done => Ok(()),
            Stage::Failed => Err(Error::InvalidState("the decryptor failed earlier")),
            _ => Err(Error::Truncated),
        };
        self.guard(r)
    }
}
