//! The HTTP transport of the KMS keyring: the AWS KMS JSON 1.1 protocol to
//! kms-proxy (or AWS KMS), with a bearer token or SigV4 credentials,
//! timeouts, and retries with backoff on 5xx and throttling.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use kms_envelope_core::keyring::kms::{GeneratedDataKey, KmsClient};
use kms_envelope_core::keyring::BoxFuture;
use kms_envelope_core::{EncryptionContext, Error, KmsErrorKind, SecretBytes};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// How requests are authenticated.
pub(crate) enum Auth {
    /// A bearer token, read from this file before every call (so an outside
    /// process can refresh it).
    TokenFile(String),
    /// AWS Signature Version 4.
    SigV4 {
        access_key: String,
        secret_key: SecretBytes,
        session_token: Option<String>,
        region: String,
    },
}

/// Which service a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// The key service (`TrentService`, SigV4 scope `kms`).
    Kms,
    /// The Parameter Store (`AmazonSSM`, SigV4 scope `ssm`).
    Ssm,
}

/// A KMS client over HTTP.
pub(crate) struct HttpKms {
    endpoint: String,
    host: String,
    auth: Auth,
    agent: ureq::Agent,
    attempts: u32,
}

fn kind_of(error_type: &str, status: u16) -> KmsErrorKind {
    let t = error_type.rsplit('#').next().unwrap_or(error_type);
    match t {
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredTokenException" => KmsErrorKind::AccessDenied,
        "NotFoundException" => KmsErrorKind::KeyNotFound,
        "DisabledException" | "KMSInvalidStateException" => KmsErrorKind::KeyDisabled,
        "InvalidCiphertextException" | "IncorrectKeyException" => KmsErrorKind::InvalidCiphertext,
        _ if status == 401 || status == 403 => KmsErrorKind::AccessDenied,
        _ => KmsErrorKind::Other,
    }
}

fn retryable(status: u16, error_type: &str) -> bool {
    status >= 500 || status == 429 || error_type.contains("Throttling")
}

impl HttpKms {
    pub(crate) fn new(endpoint: &str, auth: Auth, timeout: Duration) -> Result<Self, String> {
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("--kms-proxy wants an http:// or https:// URL, got {endpoint:?}")
            })?;
        let host = rest.split('/').next().unwrap_or(rest).to_string();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .build();
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string() + "/",
            host,
            auth,
            agent,
            attempts: 4,
        })
    }

    fn call(&self, op: &str, body: Value) -> Result<Value, Error> {
        self.call_service(Service::Kms, op, body)
    }

    /// Call an operation of the key service or the Parameter Store.
    pub(crate) fn call_service(
        &self,
        service: Service,
        op: &str,
        body: Value,
    ) -> Result<Value, Error> {
        let body = body.to_string();
        let mut last = Error::Kms(KmsErrorKind::Unreachable, "no attempt was made".into());
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << (attempt - 1)));
            }
            match self.once(service, op, &body) {
                Ok(v) => return Ok(v),
                Err((e, retry)) => {
                    last = e;
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    fn once(&self, service: Service, op: &str, body: &str) -> Result<Value, (Error, bool)> {
        let (prefix, scope) = match service {
            Service::Kms => ("TrentService", "kms"),
            Service::Ssm => ("AmazonSSM", "ssm"),
        };
        let target = format!("{prefix}.{op}");
        let mut req = self
            .agent
            .post(&self.endpoint)
            .set("Content-Type", "application/x-amz-json-1.1")
            .set("X-Amz-Target", &target)
            .set(
                "User-Agent",
                concat!("kms-envelope-cli/", env!("CARGO_PKG_VERSION")),
            );
        match &self.auth {
            Auth::TokenFile(path) => {
                let token = std::fs::read_to_string(path).map_err(|e| {
                    (
                        Error::Kms(
                            KmsErrorKind::AccessDenied,
                            format!("cannot read the token file: {e}"),
                        ),
                        false,
                    )
                })?;
                req = req.set("Authorization", &format!("Bearer {}", token.trim()));
            }
            Auth::SigV4 {
                access_key,
                secret_key,
                session_token,
                region,
            } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let amz_date = amz_date(now);
                let headers = sigv4(
                    access_key,
                    secret_key.expose(),
                    session_token.as_deref(),
                    region,
                    scope,
                    &self.host,
                    &target,
                    &amz_date,
                    body.as_bytes(),
                );
                for (k, v) in headers {
                    req = req.set(k, &v);
                }
            }
        }
        match req.send_string(body) {
            Ok(resp) => read_json(resp).map_err(|e| {
                (
                    Error::Kms(
                        KmsErrorKind::Other,
                        format!("unreadable answer from the key service: {e}"),
                    ),
                    true,
                )
            }),
            Err(ureq::Error::Status(status, resp)) => {
                let v: Value = read_json(resp).unwrap_or(Value::Null);
                let t = v
                    .get("__type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let msg = v
                    .get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let short = t.rsplit('#').next().unwrap_or(&t).to_string();
                let kind = kind_of(&t, status);
                let retry = retryable(status, &t);
                let kind = if retry && status >= 500 {
                    KmsErrorKind::Unreachable
                } else {
                    kind
                };
                Err((
                    Error::Kms(kind, format!("{op}: {short} ({status}): {msg}")),
                    retry,
                ))
            }
            Err(ureq::Error::Transport(t)) => Err((
                Error::Kms(KmsErrorKind::Unreachable, format!("{op}: {}", t.kind())),
                true,
            )),
        }
    }
}

fn read_json(resp: ureq::Response) -> Result<Value, String> {
    let body = resp.into_string().map_err(|e| e.to_string())?;
    serde_json::from_str(&body).map_err(|e| e.to_string())
}

fn context_json(ctx: &EncryptionContext) -> Value {
    let m: Map<String, Value> = ctx
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    Value::Object(m)
}

fn with_context(mut body: Value, ctx: &EncryptionContext) -> Value {
    if !ctx.is_empty() {
        body["EncryptionContext"] = context_json(ctx);
    }
    body
}

fn field<'v>(v: &'v Value, name: &str) -> Result<&'v str, Error> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Kms(KmsErrorKind::Other, format!("the answer lacks {name}")))
}

fn b64_field(v: &Value, name: &str) -> Result<Vec<u8>, Error> {
    B64.decode(field(v, name)?)
        .map_err(|_| Error::Kms(KmsErrorKind::Other, format!("{name} is not base64")))
}

impl KmsClient for HttpKms {
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        number_of_bytes: usize,
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<GeneratedDataKey, Error>> {
        Box::pin(async move {
            let body = with_context(
                json!({"KeyId": key_id, "NumberOfBytes": number_of_bytes}),
                context,
            );
            let v = self.call("GenerateDataKey", body)?;
            Ok(GeneratedDataKey {
                key_id: field(&v, "KeyId")?.to_string(),
                plaintext: SecretBytes::new(b64_field(&v, "Plaintext")?),
                ciphertext_blob: b64_field(&v, "CiphertextBlob")?,
            })
        })
    }

    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<(String, Vec<u8>), Error>> {
        Box::pin(async move {
            let body = with_context(
                json!({"KeyId": key_id, "Plaintext": B64.encode(plaintext)}),
                context,
            );
            let v = self.call("Encrypt", body)?;
            Ok((
                field(&v, "KeyId")?.to_string(),
                b64_field(&v, "CiphertextBlob")?,
            ))
        })
    }

    fn decrypt<'a>(
        &'a self,
        key_id: &'a str,
        ciphertext_blob: &'a [u8],
        context: &'a EncryptionContext,
    ) -> BoxFuture<'a, Result<(String, SecretBytes), Error>> {
        Box::pin(async move {
            let body = with_context(
                json!({"KeyId": key_id, "CiphertextBlob": B64.encode(ciphertext_blob)}),
                context,
            );
            let v = self.call("Decrypt", body)?;
            Ok((
                field(&v, "KeyId")?.to_string(),
                SecretBytes::new(b64_field(&v, "Plaintext")?),
            ))
        })
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` for a Unix time.
fn amz_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The headers that sign one KMS request with SigV4.
#[allow(clippy::too_many_arguments)]
fn sigv4(
    access_key: &str,
    secret_key: &[u8],
    session_token: Option<&str>,
    region: &str,
    service: &str,
    host: &str,
    target: &str,
    amz_date: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..8];
    let payload_hash = hex::encode(Sha256::digest(body));
    let mut headers = vec![
        ("content-type", "application/x-amz-json-1.1".to_string()),
        ("host", host.to_string()),
        ("x-amz-date", amz_date.to_string()),
    ];
    if let Some(t) = session_token {
        headers.push(("x-amz-security-token", t.to_string()));
    }
    headers.push(("x-amz-target", target.to_string()));
    let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut k = b"AWS4".to_vec();
    k.extend_from_slice(secret_key);
    let k = hmac(&k, date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    let sig = hex::encode(hmac(&k, to_sign.as_bytes()));
    let mut out = vec![
        ("X-Amz-Date", amz_date.to_string()),
        (
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={sig}"),
        ),
    ];
    if let Some(t) = session_token {
        out.push(("X-Amz-Security-Token", t.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn error_kinds() {
        assert_eq!(
            kind_of("com.amazonaws.kms#NotFoundException", 400),
            KmsErrorKind::KeyNotFound
        );
        assert_eq!(kind_of("DisabledException", 400), KmsErrorKind::KeyDisabled);
        assert_eq!(
            kind_of("AccessDeniedException", 400),
            KmsErrorKind::AccessDenied
        );
        assert_eq!(kind_of("Whatever", 403), KmsErrorKind::AccessDenied);
        assert!(
            retryable(503, "") && retryable(400, "ThrottlingException") && !retryable(400, "x")
        );
    }
}
