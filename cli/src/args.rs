//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use kms_envelope_core::keyring::Keyring;
use kms_envelope_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptOptions, EncryptOptions, EncryptionContext,
    MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding, SecretBytes,
};

use std::time::Duration;

use kms_envelope_core::keyring::KmsKeyring;

use crate::kms::{Auth, HttpKms};
use crate::Failure;

#[derive(Parser)]
#[command(
    name = "kms-envelope",
    version,
    about = "Envelope encryption in the AWS Encryption SDK message format"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Encrypt a file or stream into one message.
    Encrypt(EncryptArgs),
    /// Decrypt and verify one message.
    Decrypt(DecryptArgs),
    /// Encrypt a value on this machine and store it in the proxy's Parameter
    /// Store as a client-encrypted SecureString (the store cannot read it).
    PutSecret(crate::secrets::PutSecretArgs),
    /// Fetch a client-encrypted SecureString and decrypt it here.
    GetSecret(crate::secrets::GetSecretArgs),
    /// Fetch every parameter under a path (all pages), decrypting
    /// client-encrypted ones; prints JSON lines {"name", "value"}.
    GetSecretsByPath(crate::secrets::GetByPathArgs),
}

#[derive(Args)]
pub(crate) struct IoArgs {
    /// Input file, or - for stdin.
    #[arg(short = 'i', long = "input")]
    pub(crate) input: String,
    /// Output file, or - for stdout.
    #[arg(short = 'o', long = "output")]
    pub(crate) output: String,
}

#[derive(Args)]
pub(crate) struct CommonKeys {
    /// A raw AES wrapping key: NAMESPACE:NAME:KEYFILE (the file holds 16, 24 or 32 raw bytes).
    #[arg(long = "raw-aes-key", value_name = "NAMESPACE:NAME:KEYFILE")]
    raw_aes: Vec<String>,
    /// A raw RSA wrapping key: NAMESPACE:NAME:PEMFILE:PADDING (pkcs1, oaep-sha1, oaep-sha256, oaep-sha384, oaep-sha512).
    #[arg(long = "raw-rsa-key", value_name = "NAMESPACE:NAME:PEMFILE:PADDING")]
    raw_rsa: Vec<String>,
    /// Encryption context pair KEY=VALUE (repeatable). On decrypt: the reproduced context.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Commitment policy.
    #[arg(long = "commitment-policy", value_name = "POLICY")]
    commitment_policy: Option<String>,
    /// URL of a KMS proxy (or any AWS KMS JSON endpoint) for KMS keys.
    #[arg(long = "kms-proxy", value_name = "URL")]
    kms_proxy: Option<String>,
    /// A KMS key: ARN, key id or alias (repeatable; the first generates the data key).
    /// Decryption matches key ARNs.
    #[arg(long = "key-id", value_name = "ARN|ALIAS", requires = "kms_proxy")]
    key_ids: Vec<String>,
    /// Decrypt with any aws-kms encrypted data key the service will unwrap for us.
    #[arg(long = "kms-discovery", requires = "kms_proxy")]
    kms_discovery: bool,
    /// A file holding a bearer token (JWT), read before every call. Without it,
    /// SigV4 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
    #[arg(long = "token-file", value_name = "FILE", requires = "kms_proxy")]
    token_file: Option<String>,
    /// Region for SigV4 (default: AWS_REGION, AWS_DEFAULT_REGION, or us-east-1).
    #[arg(long = "region", requires = "kms_proxy")]
    region: Option<String>,
    /// Timeout of each key-service call, in milliseconds.
    #[arg(
        long = "kms-timeout-ms",
        default_value_t = 10_000,
        requires = "kms_proxy"
    )]
    kms_timeout_ms: u64,
}

#[derive(Args)]
pub(crate) struct EncryptArgs {
    #[command(flatten)]
    pub(crate) io: IoArgs,
    #[command(flatten)]
    pub(crate) keys: CommonKeys,
    /// Authenticate this encryption-context key without storing it (repeatable).
    #[arg(long = "required-context-key", value_name = "KEY")]
    required: Vec<String>,
    /// Algorithm suite id, e.g. 0x0478 (default) or 0x0578.
    #[arg(long = "suite")]
    suite: Option<String>,
    /// Frame length in bytes.
    #[arg(long = "frame-length")]
    frame_length: Option<u32>,
}

#[derive(Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    pub(crate) io: IoArgs,
    #[command(flatten)]
    pub(crate) keys: CommonKeys,
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long = "max-encrypted-data-keys")]
    max_edks: Option<u16>,
    /// Refuse signed messages.
    #[arg(long = "unsigned-only")]
    unsigned_only: bool,
}

fn read_file(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read key file {path}: {e}")))
}

impl CommonKeys {
    fn context(&self) -> Result<EncryptionContext, Failure> {
        let mut ec = EncryptionContext::new();
        for pair in &self.context {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| Failure::usage(format!("-c wants KEY=VALUE, got {pair:?}")))?;
            if ec.contains_key(k) {
                return Err(Failure::usage(format!("-c gives the key {k:?} twice")));
            }
            ec.insert(k, v);
        }
        Ok(ec)
    }

    fn policy(&self) -> Result<CommitmentPolicy, Failure> {
        match &self.commitment_policy {
            None => Ok(CommitmentPolicy::default()),
            Some(p) => CommitmentPolicy::from_name(p)
                .ok_or_else(|| Failure::usage(format!("unknown commitment policy {p:?}"))),
        }
    }

    /// An HTTP client for the proxy named by `--kms-proxy`.
    pub(crate) fn http_client(&self) -> Result<HttpKms, Failure> {
        let url = self
            .kms_proxy
            .as_deref()
            .ok_or_else(|| Failure::usage("this command needs --kms-proxy URL"))?;
        let auth = match &self.token_file {
            Some(f) => Auth::TokenFile(f.clone()),
            None => {
                let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
                let (Some(access_key), Some(secret)) =
                    (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
                else {
                    return Err(Failure::usage(
                        "--kms-proxy needs --token-file or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    ));
                };
                Auth::SigV4 {
                    access_key,
                    secret_key: SecretBytes::new(secret.into_bytes()),
                    session_token: var("AWS_SESSION_TOKEN"),
                    region: self
                        .region
                        .clone()
                        .or_else(|| var("AWS_REGION"))
                        .or_else(|| var("AWS_DEFAULT_REGION"))
                        .unwrap_or_else(|| "us-east-1".into()),
                }
            }
        };
        HttpKms::new(url, auth, Duration::from_millis(self.kms_timeout_ms)).map_err(Failure::usage)
    }

    fn kms_keyring(&self) -> Result<Box<dyn Keyring>, Failure> {
        let client = self.http_client()?;
        if self.kms_discovery {
            if !self.key_ids.is_empty() {
                return Err(Failure::usage(
                    "--kms-discovery and --key-id exclude each other",
                ));
            }
            return Ok(Box::new(KmsKeyring::discovery(client)));
        }
        if self.key_ids.is_empty() {
            return Err(Failure::usage(
                "--kms-proxy needs --key-id or --kms-discovery",
            ));
        }
        Ok(Box::new(KmsKeyring::new(client, self.key_ids.clone())?))
    }

    /// The keyring: the first key generates, the others also wrap.
    pub(crate) fn keyring(&self) -> Result<Box<dyn Keyring>, Failure> {
        let mut rings: Vec<Box<dyn Keyring>> = Vec::new();
        if self.kms_proxy.is_some() {
            rings.push(self.kms_keyring()?);
        }
        for spec in &self.raw_aes {
            let parts: Vec<&str> = spec.splitn(3, ':').collect();
            let [ns, name, file] = parts[..] else {
                return Err(Failure::usage(format!(
                    "--raw-aes-key wants NAMESPACE:NAME:KEYFILE, got {spec:?}"
                )));
            };
            let key = SecretBytes::new(read_file(file)?);
            rings.push(Box::new(RawAesKeyring::new(ns, name, key)?));
        }
        for spec in &self.raw_rsa {
            let bad = || {
                Failure::usage(format!(
                    "--raw-rsa-key wants NAMESPACE:NAME:PEMFILE:PADDING, got {spec:?}"
                ))
            };
            let (rest, padding) = spec.rsplit_once(':').ok_or_else(bad)?;
            let parts: Vec<&str> = rest.splitn(3, ':').collect();
            let [ns, name, file] = parts[..] else {
                return Err(bad());
            };
            let padding = RsaPadding::from_name(padding)
                .ok_or_else(|| Failure::usage(format!("unknown RSA padding {padding:?}")))?;
            let pem = String::from_utf8(read_file(file)?)
                .map_err(|_| Failure::usage(format!("{file} is not a PEM file")))?;
            rings.push(Box::new(RawRsaKeyring::from_pem(ns, name, &pem, padding)?));
        }
        match rings.len() {
            0 => Err(Failure::usage(
                "give at least one --raw-aes-key or --raw-rsa-key",
            )),
            1 => Ok(rings.pop().expect("one keyring")),
            _ => {
                let generator = rings.remove(0);
                Ok(Box::new(MultiKeyring::new(Some(generator), rings)?))
            }
        }
    }
}

fn parse_suite(s: &str) -> Result<AlgorithmSuite, Failure> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let id = u16::from_str_radix(hex, 16)
        .map_err(|_| Failure::usage(format!("--suite wants a hex id such as 0x0478, got {s:?}")))?;
    AlgorithmSuite::from_id(id).map_err(|e| Failure::usage(e.to_string()))
}

impl EncryptArgs {
    pub(crate) fn options(&self) -> Result<EncryptOptions, Failure> {
        let mut o = EncryptOptions::default();
        o.commitment_policy = self.keys.policy()?;
        o.suite = self.suite.as_deref().map(parse_suite).transpose()?;
        if let Some(f) = self.frame_length {
            if f == 0 {
                return Err(Failure::usage("--frame-length must be at least 1"));
            }
            o.frame_length = f;
        }
        o.encryption_context = self.keys.context()?;
        o.required_encryption_context_keys = self.required.clone();
        Ok(o)
    }
}

impl DecryptArgs {
    pub(crate) fn options(&self) -> Result<DecryptOptions, Failure> {
        let mut o = DecryptOptions::default();
        o.commitment_policy = self.keys.policy()?;
        o.encryption_context = self.keys.context()?;
        o.unsigned_only = self.unsigned_only;
        o.limits.max_encrypted_data_keys = self.max_edks;
        Ok(o)
    }
}
