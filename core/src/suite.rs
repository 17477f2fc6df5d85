//! Algorithm suites (`framework/algorithm-suites.md`).

use crate::error::{Error, Result};

/// The hash function of a key derivation or signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// The curve of a signed suite's ECDSA signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256 with SHA-256.
    P256,
    /// NIST P-384 with SHA-384.
    P384,
}

/// An ESDK algorithm suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmSuite {
    /// 0x0014: AES-128-GCM, no KDF (v1, legacy).
    Aes128GcmNoKdf,
    /// 0x0046: AES-192-GCM, no KDF (v1, legacy).
    Aes192GcmNoKdf,
    /// 0x0078: AES-256-GCM, no KDF (v1, legacy).
    Aes256GcmNoKdf,
    /// 0x0114: AES-128-GCM, HKDF-SHA256 (v1).
    Aes128GcmHkdfSha256,
    /// 0x0146: AES-192-GCM, HKDF-SHA256 (v1).
    Aes192GcmHkdfSha256,
    /// 0x0178: AES-256-GCM, HKDF-SHA256 (v1).
    Aes256GcmHkdfSha256,
    /// 0x0214: AES-128-GCM, HKDF-SHA256, ECDSA P-256 (v1).
    Aes128GcmHkdfSha256EcdsaP256,
    /// 0x0346: AES-192-GCM, HKDF-SHA384, ECDSA P-384 (v1).
    Aes192GcmHkdfSha384EcdsaP384,
    /// 0x0378: AES-256-GCM, HKDF-SHA384, ECDSA P-384 (v1).
    Aes256GcmHkdfSha384EcdsaP384,
    /// 0x0478: AES-256-GCM, HKDF-SHA512, key commitment (v2). The default.
    Aes256GcmHkdfSha512Commit,
    /// 0x0578: AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384 (v2).
    Aes256GcmHkdfSha512CommitEcdsaP384,
}

/// The key derivation of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kdf {
    Identity,
    Hkdf(HashAlg),
}

impl AlgorithmSuite {
    /// Every suite, in id order.
    pub const ALL: [AlgorithmSuite; 11] = [
        AlgorithmSuite::Aes128GcmNoKdf,
        AlgorithmSuite::Aes192GcmNoKdf,
        AlgorithmSuite::Aes256GcmNoKdf,
        AlgorithmSuite::Aes128GcmHkdfSha256,
        AlgorithmSuite::Aes192GcmHkdfSha256,
        AlgorithmSuite::Aes256GcmHkdfSha256,
        AlgorithmSuite::Aes128GcmHkdfSha256EcdsaP256,
        AlgorithmSuite::Aes192GcmHkdfSha384EcdsaP384,
        AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384,
        AlgorithmSuite::Aes256GcmHkdfSha512Commit,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384,
    ];

    /// The suite with this two-byte id.
    pub fn from_id(id: u16) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.id() == id)
            .ok_or(Error::UnsupportedSuite(id))
    }

    /// The two-byte id written in the header.
    pub fn id(self) -> u16 {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmNoKdf => 0x0014,
            Aes192GcmNoKdf => 0x0046,
            Aes256GcmNoKdf => 0x0078,
            Aes128GcmHkdfSha256 => 0x0114,
            Aes192GcmHkdfSha256 => 0x0146,
            Aes256GcmHkdfSha256 => 0x0178,
            Aes128GcmHkdfSha256EcdsaP256 => 0x0214,
            Aes192GcmHkdfSha384EcdsaP384 => 0x0346,
            Aes256GcmHkdfSha384EcdsaP384 => 0x0378,
            Aes256GcmHkdfSha512Commit => 0x0478,
            Aes256GcmHkdfSha512CommitEcdsaP384 => 0x0578,
        }
    }

    /// The message format version the suite is written in (1 or 2).
    pub fn message_format_version(self) -> u8 {
        if self.is_committing() {
            2
        } else {
            1
        }
    }

    /// Whether the suite commits to its data key.
    pub fn is_committing(self) -> bool {
        matches!(
            self,
            AlgorithmSuite::Aes256GcmHkdfSha512Commit
                | AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384
        )
    }

    /// The length in bytes of the data key and of the derived AES key.
    pub fn key_len(self) -> usize {
        match self.id() & 0xff {
            0x14 => 16,
            0x46 => 24,
            _ => 32,
        }
    }

    pub(crate) fn kdf(self) -> Kdf {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmNoKdf | Aes192GcmNoKdf | Aes256GcmNoKdf => Kdf::Identity,
            Aes128GcmHkdfSha256
            | Aes192GcmHkdfSha256
            | Aes256GcmHkdfSha256
            | Aes128GcmHkdfSha256EcdsaP256 => Kdf::Hkdf(HashAlg::Sha256),
            Aes192GcmHkdfSha384EcdsaP384 | Aes256GcmHkdfSha384EcdsaP384 => {
                Kdf::Hkdf(HashAlg::Sha384)
            }
            Aes256GcmHkdfSha512Commit | Aes256GcmHkdfSha512CommitEcdsaP384 => {
                Kdf::Hkdf(HashAlg::Sha512)
            }
        }
    }

    /// The signature curve, for signed suites.
    pub fn signature(self) -> Option<Curve> {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmHkdfSha256EcdsaP256 => Some(Curve::P256),
            Aes192GcmHkdfSha384EcdsaP384
            | Aes256GcmHkdfSha384EcdsaP384
            | Aes256GcmHkdfSha512CommitEcdsaP384 => Some(Curve::P384),
            _ => None,
        }
    }

    /// Whether the suite has a signature footer.
    pub fn is_signed(self) -> bool {
        self.signature().is_some()
    }

    /// Length of the message id: 16 bytes in v1, 32 in v2.
    pub fn message_id_len(self) -> usize {
        if self.message_format_version() == 2 {
            32
        } else {
            16
        }
    }

    /// Length of the algorithm suite data (the commit key) in v2 headers.
    pub fn suite_data_len(self) -> usize {
        if self.is_committing() {
            32
        } else {
            0
        }
    }
}

/// IV length of every ESDK suite.
pub const IV_LEN: usize = 12;
/// Authentication tag length of every ESDK suite.
pub const TAG_LEN: usize = 16;

/// The commitment policy (`client-apis/client.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitmentPolicy {
    /// Encrypt only with committing suites; decrypt only committing messages. The default.
    #[default]
    RequireEncryptRequireDecrypt,
    /// Encrypt only with committing suites; decrypt any message.
    RequireEncryptAllowDecrypt,
    /// Encrypt only with non-committing suites; decrypt any message.
    ForbidEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    /// Parse the kebab-case name used by the CLI.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "require-encrypt-require-decrypt" => Some(Self::RequireEncryptRequireDecrypt),
            "require-encrypt-allow-decrypt" => Some(Self::RequireEncryptAllowDecrypt),
            "forbid-encrypt-allow-decrypt" => Some(Self::ForbidEncryptAllowDecrypt),
            _ => None,
        }
    }

    /// The default suite for encryption under this policy.
    pub fn default_suite(self) -> AlgorithmSuite {
        match self {
            Self::ForbidEncryptAllowDecrypt => AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384,
            _ => AlgorithmSuite::Aes256GcmHkdfSha512Commit,
        }
    }

    pub(crate) fn check_encrypt(self, suite: AlgorithmSuite) -> Result<()> {
        match (self, suite.is_committing()) {
            (Self::ForbidEncryptAllowDecrypt, true) => Err(Error::CommitmentPolicy(
                "forbid-encrypt-allow-decrypt cannot encrypt with a committing suite",
            )),
            (Self::ForbidEncryptAllowDecrypt, false) => Ok(()),
            (_, true) => Ok(()),
            (_, false) => Err(Error::CommitmentPolicy(
                "the policy requires a committing suite (0x0478 or 0x0578) to encrypt",
            )),
        }
    }

    pub(crate) fn check_decrypt(self, suite: AlgorithmSuite) -> Result<()> {
        if self == Self::RequireEncryptRequireDecrypt && !suite.is_committing() {
            return Err(Error::CommitmentPolicy(
                "require-encrypt-require-decrypt refuses messages without key commitment",
            ));
        }
        Ok(())
    }
}
