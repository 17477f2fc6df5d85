//! JWT verification keys: an HS256 secret, RS256 and ES256 public keys from
//! PEM files, and JWKS documents (RSA and P-256 EC keys). Keys are typed by
//! algorithm, so a token can never have an RSA public key used as an HMAC
//! secret (algorithm confusion).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

/// One verification key.
pub enum VerifyKey {
    /// An HMAC-SHA256 shared secret.
    Hs256(Zeroizing<Vec<u8>>),
    /// An RSA public key, PKCS#1 v1.5 with SHA-256.
    Rs256(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    /// A P-256 public key, ECDSA with SHA-256.
    Es256(p256::ecdsa::VerifyingKey),
}

/// A key and its optional `kid`.
pub struct JwtKey {
    /// The key id, matched against the token header's `kid` when both are set.
    pub kid: Option<String>,
    /// The key.
    pub key: VerifyKey,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKey({}, kid={:?})", self.key.alg(), self.kid)
    }
}

impl VerifyKey {
    /// The JWS `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Rs256(_) => "RS256",
            Self::Es256(_) => "ES256",
        }
    }

    /// Whether `sig` is a valid signature of `msg` (constant time for HMAC).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hs256(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
                mac.update(msg);
                mac.verify_slice(sig).is_ok()
            }
            Self::Rs256(vk) => {
                use rsa::signature::Verifier;
                rsa::pkcs1v15::Signature::try_from(sig)
                    .map(|s| vk.verify(msg, &s).is_ok())
                    .unwrap_or(false)
            }
            Self::Es256(vk) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_slice(sig)
                    .map(|s| vk.verify(msg, &s).is_ok())
                    .unwrap_or(false)
            }
        }
    }
}

fn rsa_key(pk: rsa::RsaPublicKey) -> VerifyKey {
    VerifyKey::Rs256(Box::new(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk)))
}

/// An RS256 key from a PEM public key (SPKI or PKCS#1).
pub fn rs256_from_pem(text: &str) -> Result<VerifyKey, String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    rsa::RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(text))
        .map(rsa_key)
        .map_err(|e| format!("not an RSA public key: {e}"))
}

/// An ES256 key from a PEM (SPKI) P-256 public key.
pub fn es256_from_pem(text: &str) -> Result<VerifyKey, String> {
    use p256::pkcs8::DecodePublicKey;
    p256::ecdsa::VerifyingKey::from_public_key_pem(text)
        .map(VerifyKey::Es256)
        .map_err(|e| format!("not a P-256 public key: {e}"))
}

fn b64_member(k: &Value, name: &str) -> Result<Vec<u8>, String> {
    let s = k
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("JWK member {name} is missing"))?;
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| format!("JWK member {name} is not base64url"))
}

/// The RS256 and ES256 keys of a JWKS document. Keys of other types, or
/// whose `use` is not `sig`, are skipped.
pub fn from_jwks(text: &str) -> Result<Vec<JwtKey>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no keys array")?;
    let mut out = Vec::new();
    for k in keys {
        if k.get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let kid = k.get("kid").and_then(Value::as_str).map(str::to_string);
        let alg = k.get("alg").and_then(Value::as_str);
        let key = match (k.get("kty").and_then(Value::as_str), alg) {
            (Some("RSA"), None | Some("RS256")) => {
                let n = rsa::BigUint::from_bytes_be(&b64_member(k, "n")?);
                let e = rsa::BigUint::from_bytes_be(&b64_member(k, "e")?);
                rsa_key(rsa::RsaPublicKey::new(n, e).map_err(|e| format!("bad RSA JWK: {e}"))?)
            }
            (Some("EC"), None | Some("ES256")) => {
                if k.get("crv").and_then(Value::as_str) != Some("P-256") {
                    continue;
                }
                let (x, y) = (b64_member(k, "x")?, b64_member(k, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("bad P-256 JWK coordinates".into());
                }
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                VerifyKey::Es256(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .map_err(|_| "bad P-256 JWK point".to_string())?,
                )
            }
            _ => continue,
        };
        out.push(JwtKey { kid, key });
    }
    if out.is_empty() {
        return Err("JWKS has no usable RS256 or ES256 key".into());
    }
    Ok(out)
}
