//! Encryption context (`framework/structures.md#encryption-context`):
//! authenticated, not secret, serialised sorted by the UTF-8 bytes of its keys.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::wire::Reader;

/// The reserved key under which signed suites store their public key.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";

/// Key-value pairs bound to a message. `String`'s ordering is the ordering of
/// UTF-8 bytes, which is the order the format requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a pair, replacing any earlier value of the key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Remove a key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pairs as a map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Serialise as the spec says: an empty context is zero bytes; otherwise a
    /// 2-byte count, then each pair as 2-byte length + key, 2-byte length + value.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.serialize_into(&mut out)?;
        Ok(out)
    }

    pub(crate) fn serialize_into(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let start = out.len();
        let count = u16::try_from(self.0.len())
            .map_err(|_| Error::EncryptionContext("more than 65535 pairs".into()))?;
        out.extend_from_slice(&count.to_be_bytes());
        for (k, v) in &self.0 {
            for part in [k, v] {
                let len = u16::try_from(part.len()).map_err(|_| {
                    Error::EncryptionContext("a key or value is longer than 65535 bytes".into())
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        if out.len() - start > u16::MAX as usize {
            return Err(Error::EncryptionContext(
                "the serialised encryption context is longer than 65535 bytes".into(),
            ));
        }
        Ok(())
    }

    /// Parse a serialised context (the inverse of [`serialize`](Self::serialize)).
    /// Duplicate keys and invalid UTF-8 are rejected.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut ctx = BTreeMap::new();
        if bytes.is_empty() {
            return Ok(Self(ctx));
        }
        let mut r = Reader::new(bytes);
        let count = r
            .u16()
            .map_err(|_| Error::Malformed("encryption context"))?;
        if count == 0 {
            return Err(Error::Malformed("encryption context has a count of zero"));
        }
        for _ in 0..count {
            let k = r
                .vec16()
                .map_err(|_| Error::Malformed("encryption context"))?;
            let v = r
                .vec16()
                .map_err(|_| Error::Malformed("encryption context"))?;
            let k = String::from_utf8(k.to_vec())
                .map_err(|_| Error::Malformed("encryption context key is not UTF-8"))?;
            let v = String::from_utf8(v.to_vec())
                .map_err(|_| Error::Malformed("encryption context value is not UTF-8"))?;
            if ctx.insert(k, v).is_some() {
                return Err(Error::Malformed("duplicate encryption context key"));
            }
        }
        if !r.is_empty() {
            return Err(Error::Malformed("bytes after the encryption context"));
        }
        Ok(Self(ctx))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl From<BTreeMap<String, String>> for EncryptionContext {
    fn from(m: BTreeMap<String, String>) -> Self {
        Self(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_utf8_bytes() {
        let ctx: EncryptionContext = [("b", "2"), ("a", "1"), ("é", "3"), ("z", "4")]
            .into_iter()
            .collect();
        let bytes = ctx.serialize().unwrap();
        assert_eq!(&bytes[..2], &[0, 4]);
        let keys: Vec<_> = EncryptionContext::parse(&bytes)
            .unwrap()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(keys, ["a", "b", "z", "é"]);
        assert_eq!(&bytes[2..7], b"\x00\x01a\x00\x01");
    }

    #[test]
    fn empty_is_zero_bytes_and_duplicates_rejected() {
        assert!(EncryptionContext::new().serialize().unwrap().is_empty());
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert_eq!(
            EncryptionContext::parse(&dup).unwrap_err().code(),
            "MALFORMED_MESSAGE"
        );
        assert!(EncryptionContext::parse(&[0, 0]).is_err());
    }
}
