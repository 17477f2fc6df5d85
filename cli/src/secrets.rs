//! End-to-end secrets in the proxy's Parameter Store: the value is an AWS
//! Encryption SDK message made here under a KMS key, with the encryption
//! context `{"parameter": <name>}`, stored as a SecureString whose `KeyId`
//! is `client-encrypted`. The store holds ciphertext it cannot decrypt, and
//! a message moved to another parameter name does not decrypt.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Args;
use kms_envelope_core::{DecryptOptions, EncryptOptions, EncryptionContext};
use serde_json::{json, Value};

use crate::args::CommonKeys;
use crate::kms::Service;
use crate::Failure;

/// The `KeyId` the proxy knows client-encrypted SecureStrings by.
const CLIENT_ENCRYPTED: &str = "client-encrypted";

#[derive(Args)]
pub(crate) struct PutSecretArgs {
    /// The parameter name, e.g. /app/prod/db-password.
    #[arg(long)]
    name: String,
    /// The value (or read it from --input).
    #[arg(long, conflicts_with = "input")]
    value: Option<String>,
    /// Read the value from a file, or - for stdin.
    #[arg(short = 'i', long)]
    input: Option<String>,
    /// Replace an existing parameter (a new version).
    #[arg(long)]
    overwrite: bool,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    keys: CommonKeys,
}

#[derive(Args)]
pub(crate) struct GetSecretArgs {
    /// The parameter name, optionally with :version or :label.
    #[arg(long)]
    name: String,
    /// Write the value here (default stdout).
    #[arg(short = 'o', long)]
    output: Option<String>,
    #[command(flatten)]
    keys: CommonKeys,
}

#[derive(Args)]
pub(crate) struct GetByPathArgs {
    /// The path, e.g. /app/prod.
    #[arg(long)]
    path: String,
    /// Include every level below the path.
    #[arg(long)]
    recursive: bool,
    #[command(flatten)]
    keys: CommonKeys,
}

fn context_for(name: &str) -> EncryptionContext {
    let bare = name
        .rsplit_once(':')
        .map_or(name, |(n, sel)| if sel.is_empty() { name } else { n });
    let mut ec = EncryptionContext::new();
    ec.insert("parameter", bare);
    ec
}

fn ssm_failure(e: kms_envelope_core::Error) -> Failure {
    let msg = e.to_string();
    if msg.contains("ParameterNotFound") {
        return Failure::coded("PARAMETER_NOT_FOUND", msg, 1);
    }
    if msg.contains("ParameterVersionNotFound") {
        return Failure::coded("PARAMETER_VERSION_NOT_FOUND", msg, 1);
    }
    if msg.contains("ParameterAlreadyExists") {
        return Failure::coded("PARAMETER_ALREADY_EXISTS", msg, 1);
    }
    e.into()
}

fn decrypt_value(keys: &CommonKeys, name: &str, value: &str) -> Result<Vec<u8>, Failure> {
    let msg = B64.decode(value.as_bytes()).map_err(|_| {
        Failure::coded(
            "MALFORMED_MESSAGE",
            format!("{name}: the stored value is not base64"),
            1,
        )
    })?;
    let keyring = keys.keyring()?;
    let mut opts = DecryptOptions::default();
    opts.encryption_context = context_for(name);
    let out = pollster::block_on(kms_envelope_core::decrypt(keyring.as_ref(), &msg, &opts))?;
    Ok(out.plaintext)
}

pub(crate) fn put(a: &PutSecretArgs) -> Result<(), Failure> {
    let value = match (&a.value, &a.input) {
        (Some(v), _) => v.clone().into_bytes(),
        (None, Some(path)) => {
            let mut buf = Vec::new();
            if path == "-" {
                std::io::stdin().read_to_end(&mut buf)
            } else {
                std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf))
            }
            .map_err(|e| Failure::io("cannot read the value", e))?;
            buf
        }
        (None, None) => return Err(Failure::usage("give --value or --input")),
    };
    let keyring = a.keys.keyring()?;
    let mut opts = EncryptOptions::default();
    opts.encryption_context = context_for(&a.name);
    let msg = pollster::block_on(kms_envelope_core::encrypt(keyring.as_ref(), &value, &opts))?;
    let mut body = json!({
        "Name": a.name,
        "Value": B64.encode(&msg),
        "Type": "SecureString",
        "KeyId": CLIENT_ENCRYPTED,
        "Overwrite": a.overwrite,
    });
    if let Some(d) = &a.description {
        body["Description"] = json!(d);
    }
    let client = a.keys.http_client()?;
    let out = client
        .call_service(Service::Ssm, "PutParameter", body)
        .map_err(ssm_failure)?;
    println!("{} version {}", a.name, out["Version"]);
    Ok(())
}

pub(crate) fn get(a: &GetSecretArgs) -> Result<(), Failure> {
    let client = a.keys.http_client()?;
    let out = client
        .call_service(
            Service::Ssm,
            "GetParameter",
            json!({"Name": a.name, "WithDecryption": true}),
        )
        .map_err(ssm_failure)?;
    let p = &out["Parameter"];
    let value = p["Value"].as_str().unwrap_or_default();
    let plain = decrypt_value(&a.keys, &a.name, value)?;
    match a.output.as_deref() {
        None | Some("-") => std::io::stdout()
            .write_all(&plain)
            .map_err(|e| Failure::io("write failed", e)),
        Some(path) => std::fs::write(path, &plain).map_err(|e| Failure::io("write failed", e)),
    }
}

pub(crate) fn get_by_path(a: &GetByPathArgs) -> Result<(), Failure> {
    let client = a.keys.http_client()?;
    let mut token: Option<String> = None;
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut body = json!({"Path": a.path, "Recursive": a.recursive, "WithDecryption": true, "MaxResults": 10});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let out = client
            .call_service(Service::Ssm, "GetParametersByPath", body)
            .map_err(ssm_failure)?;
        for p in out["Parameters"].as_array().cloned().unwrap_or_default() {
            let name = p["Name"].as_str().unwrap_or_default().to_string();
            let raw = p["Value"].as_str().unwrap_or_default();
            let client_encrypted = p["Type"] == "SecureString" && looks_like_message(raw);
            let value: Value = if client_encrypted {
                let plain = decrypt_value(&a.keys, &name, raw)?;
                json!(String::from_utf8_lossy(&plain))
            } else {
                json!(raw)
            };
            writeln!(stdout, "{}", json!({"name": name, "value": value}))
                .map_err(|e| Failure::io("write failed", e))?;
        }
        match out["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(()),
        }
    }
}

/// Whether a SecureString value (returned WithDecryption) is still a message:
/// server-side SecureStrings come back decrypted, client-encrypted ones as
/// the base64 message, whose header parses.
fn looks_like_message(v: &str) -> bool {
    B64.decode(v.as_bytes()).ok().is_some_and(|b| {
        matches!(
            kms_envelope_core::Header::parse(&b, &kms_envelope_core::Limits::default()),
            Ok(Some(_))
        )
    })
}
