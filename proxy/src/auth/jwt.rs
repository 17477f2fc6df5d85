//! Bearer JWT verification (HS256, RS256, ES256; compact serialisation).
//!
//! Checks, in order: structure, an `alg` for which a key is configured (no
//! `none`; keys are typed, so no algorithm confusion), the signature, then
//! `exp` (required), `nbf`, `iss` and `aud`, with a small leeway. The
//! principal is the configured claim (default `sub`), which must be a
//! non-empty string.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};

use super::jwk::{JwtKey, VerifyKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{ErrorKind, KmsError, KmsResult};

/// How tokens are verified.
pub struct JwtVerifier {
    keys: Vec<JwtKey>,
    /// Required issuer.
    pub issuer: Option<String>,
    /// Required audience.
    pub audience: Option<String>,
    /// The claim naming the principal.
    pub principal_claim: String,
    /// Leeway for time claims, seconds.
    pub leeway: i64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("principal_claim", &self.principal_claim)
            .finish()
    }
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The principal named by the configured claim.
    pub principal: String,
    /// Every claim, for identity policies (`jwt:<claim>`).
    pub claims: Map<String, Value>,
}

fn invalid() -> KmsError {
    KmsError::new(
        ErrorKind::UnrecognizedClient,
        "The security token included in the request is invalid.",
    )
}

fn invalid_because(why: &str) -> KmsError {
    KmsError::new(
        ErrorKind::UnrecognizedClient,
        format!("The security token included in the request is invalid: {why}."),
    )
}

impl JwtVerifier {
    /// A verifier for HS256 tokens.
    pub fn hs256(secret: Zeroizing<Vec<u8>>) -> Self {
        Self::with_keys(vec![JwtKey {
            kid: None,
            key: VerifyKey::Hs256(secret),
        }])
    }

    /// A verifier for any of `keys`.
    pub fn with_keys(keys: Vec<JwtKey>) -> Self {
        Self {
            keys,
            issuer: None,
            audience: None,
            principal_claim: "sub".into(),
            leeway: 60,
        }
    }

    /// Verify a compact JWT at time `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> KmsResult<VerifiedToken> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_because("not a compact JWT"));
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let kid = header.get("kid").and_then(Value::as_str);
        if header.get("crit").is_some() {
            return Err(invalid_because(
                "critical header parameters are not supported",
            ));
        }
        let candidates: Vec<&JwtKey> = self
            .keys
            .iter()
            .filter(|k| k.key.alg() == alg)
            .filter(|k| match (kid, &k.kid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(invalid_because("unsupported algorithm or unknown key"));
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        let signed = format!("{h}.{p}");
        if !candidates
            .iter()
            .any(|k| k.key.verify(signed.as_bytes(), &sig))
        {
            return Err(invalid());
        }
        let claims: Map<String, Value> = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        self.check_claims(&claims, now)?;
        let principal = claims
            .get(&self.principal_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid_because("the principal claim is missing"))?
            .to_string();
        Ok(VerifiedToken { principal, claims })
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> KmsResult<()> {
        let time = |name: &str| -> KmsResult<Option<i64>> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(|f| Some(f.floor() as i64))
                    .ok_or_else(|| invalid_because(&format!("{name} is not a number"))),
            }
        };
        let exp = time("exp")?.ok_or_else(|| invalid_because("exp is required"))?;
        if now > exp + self.leeway {
            return Err(KmsError::new(
                ErrorKind::ExpiredToken,
                "The security token included in the request is expired",
            ));
        }
        if let Some(nbf) = time("nbf")? {
            if now + self.leeway < nbf {
                return Err(invalid_because("the token is not valid yet"));
            }
        }
        if let Some(iss) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
                return Err(invalid_because("wrong issuer"));
            }
        }
        if let Some(aud) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == aud,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
                _ => false,
            };
            if !ok {
                return Err(invalid_because("wrong audience"));
            }
        }
        Ok(())
    }
}

/// Make an HS256 token (for tests and the admin `token` command).
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    let s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{h}.{p}.{s}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwk::{JwtKey, VerifyKey};
    use serde_json::json;

    fn verifier() -> JwtVerifier {
        let mut v =
            JwtVerifier::hs256(Zeroizing::new(b"0123456789abcdef0123456789abcdef".to_vec()));
        v.issuer = Some("https://issuer.test".into());
        v.audience = Some("kms-proxy".into());
        v
    }

    fn token(claims: Value) -> String {
        sign_hs256(b"0123456789abcdef0123456789abcdef", &claims)
    }

    #[test]
    fn a_good_token_names_its_principal() {
        let t = token(
            json!({"sub": "alice", "exp": 2000, "nbf": 900, "iss": "https://issuer.test", "aud": ["x", "kms-proxy"]}),
        );
        let v = verifier().verify(&t, 1000).unwrap();
        assert_eq!(v.principal, "alice");
        assert_eq!(v.claims["iss"], "https://issuer.test");
    }

    #[test]
    fn each_bad_token_is_refused_with_the_right_kind() {
        let base =
            json!({"sub": "alice", "exp": 2000, "iss": "https://issuer.test", "aud": "kms-proxy"});
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            token(c)
        };
        let v = verifier();
        assert_eq!(
            v.verify(&with("exp", json!(900)), 1000).unwrap_err().kind,
            ErrorKind::ExpiredToken
        );
        // Within the leeway an expired token still passes.
        assert!(v.verify(&with("exp", json!(990)), 1000).is_ok());
        for (bad, now) in [
            (with("aud", json!("other")), 1000),
            (with("iss", json!("https://evil.test")), 1000),
            (with("nbf", json!(1100)), 1000),
            (with("sub", json!(7)), 1000),
            (with("exp", json!("later")), 1000),
            (sign_hs256(b"another secret", &base), 1000),
            ("a.b".to_string(), 1000),
        ] {
            assert_eq!(
                v.verify(&bad, now).unwrap_err().kind,
                ErrorKind::UnrecognizedClient,
                "{bad}"
            );
        }
        let mut no_exp = base.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(v.verify(&token(no_exp), 1000).is_err());
        // alg=none with an empty signature is refused.
        let t = token(base.clone());
        let payload = t.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#)
        );
        assert!(v.verify(&none, 1000).is_err());
        // A flipped payload byte breaks the signature.
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(json!({"sub": "mallory", "exp": 2000, "iss": "https://issuer.test", "aud": "kms-proxy"}).to_string());
        assert!(v.verify(&parts.join("."), 1000).is_err());
    }

    #[test]
    fn es256_tokens_verify_and_keys_are_typed() {
        use p256::ecdsa::{signature::Signer, Signature, SigningKey};
        let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let keys = vec![JwtKey {
            kid: Some("k1".into()),
            key: VerifyKey::Es256(*sk.verifying_key()),
        }];
        let v = JwtVerifier::with_keys(keys);
        let make = |header: Value, claims: Value| {
            let h = URL_SAFE_NO_PAD.encode(header.to_string());
            let p = URL_SAFE_NO_PAD.encode(claims.to_string());
            let sig: Signature = sk.sign(format!("{h}.{p}").as_bytes());
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
        };
        let claims = json!({"sub": "bob", "exp": 2000});
        let t = make(json!({"alg": "ES256", "kid": "k1"}), claims.clone());
        assert_eq!(v.verify(&t, 1000).unwrap().principal, "bob");
        // Unknown kid, and a token claiming another algorithm, are refused.
        let t = make(json!({"alg": "ES256", "kid": "k2"}), claims.clone());
        assert!(v.verify(&t, 1000).is_err());
        let hs = token(claims);
        assert!(v.verify(&hs, 1000).is_err());
    }
}
