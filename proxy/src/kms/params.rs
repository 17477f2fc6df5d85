//! Request parsing helpers: AWS-shaped errors for wrong types, missing
//! members, bad base64 and out-of-range values.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use kms_envelope_core::EncryptionContext;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ErrorKind, KmsError, KmsResult};

/// Deserialize a request; type mismatches are `SerializationException`s.
pub fn parse<T: DeserializeOwned>(body: Value) -> KmsResult<T> {
    if !body.is_object() {
        return Err(KmsError::new(
            ErrorKind::Serialization,
            "The request body must be a JSON object",
        ));
    }
    serde_json::from_value(body).map_err(|e| {
        // serde's message names the field and the type, never a value.
        let msg = e.to_string();
        let msg = msg.split(" at line").next().unwrap_or(&msg).to_string();
        KmsError::new(ErrorKind::Serialization, msg)
    })
}

fn camel(field: &str) -> String {
    let mut c = field.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A required member.
pub fn required<T>(v: Option<T>, field: &str) -> KmsResult<T> {
    v.ok_or_else(|| {
        KmsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            camel(field)
        ))
    })
}

/// A string whose length must be within `min..=max`.
pub fn length(s: &str, field: &str, min: usize, max: usize) -> KmsResult<()> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length between {min} and {max}",
            camel(field)
        )));
    }
    Ok(())
}

/// An integer within `min..=max`.
pub fn range(v: i64, field: &str, min: i64, max: i64) -> KmsResult<i64> {
    if v < min || v > max {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value between {min} and {max}",
            camel(field)
        )));
    }
    Ok(v)
}

/// A base64 blob (the JSON encoding of KMS binary members).
pub fn blob(s: &str, field: &str) -> KmsResult<Vec<u8>> {
    STANDARD.decode(s).map_err(|_| {
        KmsError::new(
            ErrorKind::Serialization,
            format!("{field} is not valid base64"),
        )
    })
}

/// Base64 for responses.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// An encryption context and its canonical serialisation (the ESDK's:
/// pairs sorted by key bytes, length-prefixed), which is what ciphertexts bind.
pub fn context(
    ctx: Option<BTreeMap<String, String>>,
) -> KmsResult<(BTreeMap<String, String>, Vec<u8>)> {
    let map = ctx.unwrap_or_default();
    let bytes = EncryptionContext::from(map.clone())
        .serialize()
        .map_err(|_| KmsError::validation("The encryption context is too large"))?;
    Ok((map, bytes))
}

/// A page size: 1..=1000, default 100.
pub fn limit(v: Option<i64>) -> KmsResult<usize> {
    Ok(range(v.unwrap_or(100), "Limit", 1, 1000)? as usize)
}

/// Encode a pagination marker.
pub fn marker_out(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last)
}

/// Decode a pagination marker.
pub fn marker_in(m: Option<&str>) -> KmsResult<Option<String>> {
    let Some(m) = m else { return Ok(None) };
    URL_SAFE_NO_PAD
        .decode(m)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid"))
}

/// Only `SYMMETRIC_DEFAULT` is supported.
pub fn algorithm(a: Option<&str>, field: &str) -> KmsResult<()> {
    match a {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(other) if other.starts_with("RSAES_") || other == "SM2PKE" => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!("{field} {other} is not supported by a symmetric key"),
        )),
        Some(_) => Err(KmsError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
            camel(field)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct R {
        key_id: Option<String>,
        number_of_bytes: Option<i64>,
    }

    #[test]
    fn wrong_types_and_missing_members() {
        let e = parse::<R>(json!({"KeyId": 5})).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Serialization);
        let e = parse::<R>(json!([1])).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Serialization);
        let r = parse::<R>(json!({"NumberOfBytes": 3, "Other": true})).unwrap();
        assert_eq!(r.number_of_bytes, Some(3));
        let e = required(r.key_id, "KeyId").unwrap_err();
        assert!(e.message.contains("'keyId'"));
        assert_eq!(
            range(0, "NumberOfBytes", 1, 1024).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert_eq!(
            marker_in(marker_out("abc").as_str().into())
                .unwrap()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            marker_in(Some("!!")).unwrap_err().kind,
            ErrorKind::InvalidMarker
        );
    }

    #[test]
    fn context_serialisation_is_order_independent() {
        let a = BTreeMap::from([
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        let (_, x) = context(Some(a)).unwrap();
        let mut b = BTreeMap::new();
        b.insert("a".to_string(), "1".to_string());
        b.insert("b".to_string(), "2".to_string());
        assert_eq!(context(Some(b)).unwrap().1, x);
        assert!(context(None).unwrap().1.is_empty());
    }
}
