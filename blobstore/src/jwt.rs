//! ES256 bearer tokens (compact JWS): verification for the blob store,
//! signing for the demo identity provider.
//!
//! Verification checks, in order: three parts, a header with `alg` exactly
//! `ES256` and no `crit`, the P-256 signature (fixed 64-byte `r||s`), then
//! `exp` (required), `nbf`, `iss` and `aud` with a small leeway. The
//! principal is `sub`, a non-empty string.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};

/// Verifies ES256 tokens against one public key.
#[derive(Debug, Clone)]
pub struct Verifier256 {
    key: VerifyingKey,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required audience (one of the token's `aud` values).
    pub audience: Option<String>,
    /// Leeway for `exp`/`nbf`, seconds.
    pub leeway: i64,
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `sub` claim.
    pub subject: String,
    /// The `exp` claim.
    pub expires_at: i64,
}

fn invalid(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidToken,
        format!("the bearer token is invalid: {why}"),
    )
}

impl Verifier256 {
    /// A verifier for `key`, with no issuer/audience requirement and 60 s leeway.
    pub fn new(key: VerifyingKey) -> Self {
        Self {
            key,
            issuer: None,
            audience: None,
            leeway: 60,
        }
    }

    /// From a PEM (SPKI, `-----BEGIN PUBLIC KEY-----`) P-256 public key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(Self::new)
            .map_err(|_| "not a PEM P-256 public key".to_string())
    }

    /// Verify `token` at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Verified, ApiError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWS"));
        };
        let header: Map<String, Value> = decode_json(h).ok_or_else(|| invalid("bad header"))?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(invalid("the algorithm must be ES256"));
        }
        if header.contains_key("crit") {
            return Err(invalid("critical header parameters are not supported"));
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| invalid("bad signature encoding"))?;
        let signed = &token[..h.len() + 1 + p.len()];
        self.key
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| invalid("bad signature"))?;
        let claims: Map<String, Value> = decode_json(p).ok_or_else(|| invalid("bad claims"))?;
        let time = |name: &str| -> Result<Option<i64>, ApiError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f.floor() as i64))
                    .map(Some)
                    .ok_or_else(|| invalid(&format!("{name} is not a number"))),
            }
        };
        let exp = time("exp")?.ok_or_else(|| invalid("exp is required"))?;
        if now > exp.saturating_add(self.leeway) {
            return Err(ApiError::new(
                ErrorCode::ExpiredToken,
                "the bearer token has expired",
            ));
        }
        if let Some(nbf) = time("nbf")? {
            if now.saturating_add(self.leeway) < nbf {
                return Err(invalid("the token is not valid yet"));
            }
        }
        if let Some(iss) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
                return Err(invalid("wrong issuer"));
            }
        }
        if let Some(aud) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == aud,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
                _ => false,
            };
            if !ok {
                return Err(invalid("wrong audience"));
            }
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("sub is missing"))?
            .to_string();
        Ok(Verified {
            subject,
            expires_at: exp,
        })
    }
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A key id: the first 16 hex digits of SHA-256 over the SPKI DER.
pub fn key_id(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default();
    hex::encode(&Sha256::digest(&der)[..8])
}

/// Sign `claims` as a compact ES256 JWS with a `kid` header.
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let header =
        serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": key_id(key.verifying_key())});
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig: Signature = key.sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// A fresh random P-256 signing key (from the OS generator).
pub fn generate_key() -> Result<SigningKey, String> {
    loop {
        let mut b = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut b[..]).map_err(|e| format!("random: {e}"))?;
        // Out-of-range scalars (probability ~2^-32) are retried.
        if let Ok(k) = SigningKey::from_slice(&b[..]) {
            return Ok(k);
        }
    }
}

/// The private key as PKCS#8 PEM.
pub fn private_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, String> {
    key.to_pkcs8_pem(Default::default())
        .map_err(|e| format!("encode private key: {e}"))
}

/// The public key as SPKI PEM (what `kms-blobstore` and `kms-proxy` verify with).
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, String> {
    key.to_public_key_pem(Default::default())
        .map_err(|e| format!("encode public key: {e}"))
}

/// A private key from PKCS#8 PEM.
pub fn private_key_from_pem(pem: &str) -> Result<SigningKey, String> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| "not a PKCS#8 P-256 private key".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setup() -> (SigningKey, Verifier256) {
        let k = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let pem = public_key_pem(k.verifying_key()).unwrap();
        let mut v = Verifier256::from_pem(&pem).unwrap();
        v.issuer = Some("idp".into());
        v.audience = Some("blob".into());
        (k, v)
    }

    #[test]
    fn good_and_bad_tokens() {
        let (k, v) = setup();
        let base = json!({"sub": "alice", "exp": 2000, "iss": "idp", "aud": ["x", "blob"]});
        assert_eq!(v.verify(&sign(&k, &base), 1000).unwrap().subject, "alice");
        let with = |key: &str, val: Value| {
            let mut c = base.clone();
            c[key] = val;
            sign(&k, &c)
        };
        assert_eq!(
            v.verify(&with("exp", json!(900)), 1000).unwrap_err().code,
            ErrorCode::ExpiredToken
        );
        for bad in [
            with("aud", json!("other")),
            with("iss", json!("evil")),
            with("nbf", json!(1100)),
            with("sub", json!("")),
            with("exp", json!("soon")),
            sign(&SigningKey::from_slice(&[8u8; 32]).unwrap(), &base),
            "a.b".into(),
        ] {
            assert_eq!(
                v.verify(&bad, 1000).unwrap_err().code,
                ErrorCode::InvalidToken,
                "{bad}"
            );
        }
        // alg=none and a swapped payload are refused.
        let t = sign(&k, &base);
        let mut parts: Vec<&str> = t.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        parts[0] = &none;
        assert!(v.verify(&parts.join("."), 1000).is_err());
        let evil = URL_SAFE_NO_PAD.encode(json!({"sub": "mallory", "exp": 2000}).to_string());
        let mut parts: Vec<&str> = t.split('.').collect();
        parts[1] = &evil;
        assert!(v.verify(&parts.join("."), 1000).is_err());
    }

    #[test]
    fn pem_round_trip() {
        let k = generate_key().unwrap();
        let pem = private_key_pem(&k).unwrap();
        let k2 = private_key_from_pem(&pem).unwrap();
        assert_eq!(k.to_bytes(), k2.to_bytes());
        assert!(public_key_pem(k.verifying_key())
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
