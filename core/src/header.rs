//! The message header (`data-format/message-header.md`), versions 1 and 2.

use crate::context::EncryptionContext;
use crate::error::{Error, Limit, Result};
use crate::materials::EncryptedDataKey;
use crate::suite::{AlgorithmSuite, IV_LEN, TAG_LEN};
use crate::wire::{put_vec16, Reader, Short};

/// How the body is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentType {
    /// One block of ciphertext (legacy, read only).
    NonFramed,
    /// A sequence of frames.
    Framed,
}

impl ContentType {
    fn byte(self) -> u8 {
        match self {
            ContentType::NonFramed => 1,
            ContentType::Framed => 2,
        }
    }
}

/// The parsing limits of a decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most encrypted data keys accepted in a header. `None`: no limit.
    pub max_encrypted_data_keys: Option<u16>,
    /// Largest header accepted, in bytes (header body plus authentication).
    pub max_header_size: usize,
    /// Largest frame length (or non-framed content length) accepted, in bytes.
    /// The decryptor buffers one frame, so this bounds its memory.
    pub max_frame_length: u64,
    /// Largest body accepted, in bytes. `None`: no limit.
    pub max_body_size: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_encrypted_data_keys: None,
            max_header_size: 1 << 20,
            max_frame_length: 64 << 20,
            max_body_size: None,
        }
    }
}

/// A message header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The algorithm suite, which also fixes the format version.
    pub suite: AlgorithmSuite,
    /// 16 bytes (v1) or 32 bytes (v2) of randomness.
    pub message_id: Vec<u8>,
    /// The stored encryption context.
    pub encryption_context: EncryptionContext,
    /// One or more encrypted data keys.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Framed or non-framed.
    pub content_type: ContentType,
    /// Frame length (0 for non-framed).
    pub frame_length: u32,
    /// Algorithm suite data: the commit key of committing suites.
    pub suite_data: Vec<u8>,
}

/// The header authentication fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderAuth {
    /// The IV (written in v1 only; zero in v2).
    pub iv: [u8; IV_LEN],
    /// The AES-GCM tag over the header body (and required encryption context).
    pub tag: [u8; TAG_LEN],
}

/// A header parsed from the front of a message.
#[derive(Clone, Debug)]
pub struct ParsedHeader {
    /// The header.
    pub header: Header,
    /// Length of the header body (the bytes authenticated by the tag).
    pub body_len: usize,
    /// The authentication fields.
    pub auth: HeaderAuth,
    /// Length of the whole header including authentication.
    pub total_len: usize,
}

enum P {
    Short,
    Err(Error),
}

impl From<Short> for P {
    fn from(_: Short) -> Self {
        P::Short
    }
}

impl From<Error> for P {
    fn from(e: Error) -> Self {
        P::Err(e)
    }
}

impl Header {
    /// The message format version (1 or 2).
    pub fn version(&self) -> u8 {
        self.suite.message_format_version()
    }

    /// Serialise the header body (everything the header tag authenticates).
    pub fn serialize_body(&self) -> Result<Vec<u8>> {
        let bad = |what| Error::InvalidArgument(format!("header field too long: {what}"));
        let mut out = Vec::with_capacity(256);
        let v2 = self.version() == 2;
        if v2 {
            out.push(2);
        } else {
            out.extend_from_slice(&[1, 0x80]);
        }
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        let ec = self.encryption_context.serialize()?;
        put_vec16(&mut out, &ec).ok_or_else(|| bad("encryption context"))?;
        let n = u16::try_from(self.encrypted_data_keys.len())
            .map_err(|_| bad("encrypted data key count"))?;
        if n == 0 {
            return Err(Error::InvalidArgument(
                "a message needs at least one encrypted data key".into(),
            ));
        }
        out.extend_from_slice(&n.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            put_vec16(&mut out, &edk.provider_id).ok_or_else(|| bad("provider id"))?;
            put_vec16(&mut out, &edk.provider_info).ok_or_else(|| bad("provider info"))?;
            put_vec16(&mut out, &edk.ciphertext).ok_or_else(|| bad("encrypted data key"))?;
        }
        out.push(self.content_type.byte());
        if !v2 {
            out.extend_from_slice(&[0, 0, 0, 0, IV_LEN as u8]);
        }
        out.extend_from_slice(&self.frame_length.to_be_bytes());
        if v2 {
            out.extend_from_slice(&self.suite_data);
        }
        Ok(out)
    }

    /// Serialise the header authentication after the body.
    pub fn serialize_auth(&self, auth: &HeaderAuth, out: &mut Vec<u8>) {
        if self.version() == 1 {
            out.extend_from_slice(&auth.iv);
        }
        out.extend_from_slice(&auth.tag);
    }

    /// Parse a header from the front of `buf`. `Ok(None)` means more bytes
    /// are needed.
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<ParsedHeader>> {
        match parse_inner(buf, limits) {
            Ok(p) => {
                if p.total_len > limits.max_header_size {
                    return Err(header_too_big(limits, p.total_len));
                }
                Ok(Some(p))
            }
            Err(P::Short) if buf.len() > limits.max_header_size => {
                Err(header_too_big(limits, buf.len()))
            }
            Err(P::Short) => Ok(None),
            Err(P::Err(e)) => Err(e),
        }
    }
}

fn header_too_big(limits: &Limits, found: usize) -> Error {
    Error::LimitExceeded {
        limit: Limit::HeaderSize,
        max: limits.max_header_size as u64,
        found: found as u64,
    }
}

fn parse_inner(buf: &[u8], limits: &Limits) -> core::result::Result<ParsedHeader, P> {
    let mut r = Reader::new(buf);
    let version = r.u8()?;
    match version {
        1 => {
            if r.u8()? != 0x80 {
                return Err(Error::Malformed("message type").into());
            }
        }
        2 => {}
        v => return Err(Error::UnsupportedVersion(v).into()),
    }
    let suite = AlgorithmSuite::from_id(r.u16()?)?;
    if suite.message_format_version() != version {
        return Err(Error::Malformed("algorithm suite does not match the format version").into());
    }
    let message_id = r.take(suite.message_id_len())?.to_vec();
    let ec_bytes = r.vec16()?;
    let encryption_context = EncryptionContext::parse(ec_bytes)?;
    let n = r.u16()?;
    if n == 0 {
        return Err(Error::Malformed("no encrypted data keys").into());
    }
    if let Some(max) = limits.max_encrypted_data_keys {
        if n > max {
            return Err(Error::LimitExceeded {
                limit: Limit::EncryptedDataKeys,
                max: max.into(),
                found: n.into(),
            }
            .into());
        }
    }
    let mut encrypted_data_keys = Vec::with_capacity(n.min(64) as usize);
    for _ in 0..n {
        let provider_id = r.vec16()?.to_vec();
        let provider_info = r.vec16()?.to_vec();
        let ciphertext = r.vec16()?.to_vec();
        if std::str::from_utf8(&provider_id).is_err() {
            return Err(Error::Malformed("key provider id is not UTF-8").into());
        }
        encrypted_data_keys.push(EncryptedDataKey {
            provider_id,
            provider_info,
            ciphertext,
        });
    }
    let content_type = match r.u8()? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        _ => return Err(Error::Malformed("content type").into()),
    };
    if version == 1 {
        if r.take(4)? != [0, 0, 0, 0] {
            return Err(Error::Malformed("reserved bytes are not zero").into());
        }
        if r.u8()? as usize != IV_LEN {
            return Err(Error::Malformed("IV length").into());
        }
    }
    let frame_length = r.u32()?;
    match content_type {
        ContentType::NonFramed if frame_length != 0 => {
            return Err(Error::Malformed("non-framed message with a frame length").into())
        }
        ContentType::Framed if frame_length == 0 => {
            return Err(Error::Malformed("framed message with a frame length of zero").into())
        }
        _ => {}
    }
    if u64::from(frame_length) > limits.max_frame_length {
        return Err(Error::LimitExceeded {
            limit: Limit::FrameLength,
            max: limits.max_frame_length,
            found: frame_length.into(),
        }
        .into());
    }
    let suite_data = if version == 2 {
        r.take(suite.suite_data_len())?.to_vec()
    } else {
        Vec::new()
    };
    let body_len = r.pos();
    let mut iv = [0u8; IV_LEN];
    if version == 1 {
        iv.copy_from_slice(r.take(IV_LEN)?);
    }
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(r.take(TAG_LEN)?);
    Ok(ParsedHeader {
        header: Header {
            suite,
            message_id,
            encryption_context,
            encrypted_data_keys,
            content_type,
            frame_length,
            suite_data,
        },
        body_len,
        auth: HeaderAuth { iv, tag },
        total_len: r.pos(),
    })
}
