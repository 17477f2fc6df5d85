//! Secret wrapper types: zeroized on drop, redacted in Debug, never Clone.

use core::fmt;
use zeroize::Zeroizing;

/// A plaintext data key (or any other symmetric secret). Zeroized on drop,
/// redacted in `Debug`, and deliberately neither `Clone` nor serialisable.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Take ownership of secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copy secret bytes out of a slice.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    /// `len` zero bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0u8; len])
    }

    /// The secret bytes. Handle with care.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, mutably.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An explicit copy. Not `Clone`, so that copies are always deliberate.
    pub fn duplicate(&self) -> Self {
        Self::from_slice(self.expose())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A plaintext data key.
pub type DataKey = SecretBytes;

#[cfg(test)]
mod tests {
    #[test]
    fn debug_is_redacted() {
        let k = super::SecretBytes::new(vec![0x41; 32]);
        let s = format!("{k:?}");
        assert!(!s.contains("65") && !s.contains("41") && s.contains("REDACTED"));
    }
}
