//! AWS Signature Version 4 verification (header form, `AWS4-HMAC-SHA256`).
//!
//! The server recomputes the signature from the request as received and
//! compares in constant time. The request time must be within the skew
//! window, and the credential scope must name this proxy's region, the `kms`
//! service, the request's date and `aws4_request`.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ErrorKind, KmsError, KmsResult};

type HmacSha256 = Hmac<Sha256>;

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub access_key_id: String,
    /// The scope date, `YYYYMMDD`.
    pub date: String,
    /// The scope region.
    pub region: String,
    /// The scope service.
    pub service: String,
    /// Signed header names, lower case, as listed.
    pub signed_headers: Vec<String>,
    /// The signature, lower-case hex as sent.
    pub signature: String,
}

/// The request as the verifier sees it.
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// All headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

fn sig_err(msg: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::InvalidSignature, msg)
}

fn incomplete(msg: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidSignature,
        format!("Authorization header is malformed: {msg}"),
    )
}

/// Parse the `Authorization` header value.
pub fn parse_authorization(value: &str) -> KmsResult<Authorization> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("only AWS4-HMAC-SHA256 is supported"))?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| incomplete("expected Key=Value"))?;
        let slot = match k {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err(incomplete("unknown component")),
        };
        if slot.replace(v).is_some() {
            return Err(incomplete("repeated component"));
        }
    }
    let cred = cred.ok_or_else(|| incomplete("missing Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("missing SignedHeaders"))?;
    let sig = sig.ok_or_else(|| incomplete("missing Signature"))?;
    let parts: Vec<&str> = cred.split('/').collect();
    let [akid, date, region, service, term] = parts[..] else {
        return Err(incomplete(
            "Credential must be AKID/date/region/service/aws4_request",
        ));
    };
    if term != "aws4_request" {
        return Err(sig_err(
            "Credential should be scoped with a valid terminator: 'aws4_request'",
        ));
    }
    if akid.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete("bad Credential"));
    }
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hex characters"));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    if signed_headers
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete("SignedHeaders must be lower-case names"));
    }
    if signed_headers.windows(2).any(|w| w[0] >= w[1]) {
        return Err(incomplete("SignedHeaders must be sorted and unique"));
    }
    Ok(Authorization {
        access_key_id: akid.into(),
        date: date.into(),
        region: region.into(),
        service: service.into(),
        signed_headers,
        signature: sig.to_ascii_lowercase(),
    })
}

/// Percent-encode everything but the unreserved characters (and `/` if asked).
fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), false, &mut ek);
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The canonical request (step 1 of signing).
pub fn canonical_request(req: &Request<'_>, signed_headers: &[String]) -> KmsResult<String> {
    let mut path = String::new();
    let raw = if req.path.is_empty() { "/" } else { req.path };
    // Non-S3 services sign the already-encoded path encoded once more.
    uri_encode(raw.as_bytes(), true, &mut path);
    let mut headers = String::new();
    for name in signed_headers {
        let value = canonical_header_value(req.headers, name)
            .ok_or_else(|| sig_err(format!("Signed header {name} is not in the request")))?;
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        canonical_query(req.query),
        headers,
        signed_headers.join(";"),
        hex::encode(Sha256::digest(req.body))
    ))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The SigV4 signature (hex) of a canonical request.
pub fn signature(
    secret: &[u8],
    amz_date: &str,
    auth: &Authorization,
    canonical_request: &str,
) -> String {
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut k_secret = zeroize::Zeroizing::new(b"AWS4".to_vec());
    k_secret.extend_from_slice(secret);
    let k_date = hmac(&k_secret, auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, sts.as_bytes()))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// What the verifier checks the scope against.
pub struct Expect<'a> {
    /// The proxy's region.
    pub region: &'a str,
    /// The service name (`kms`).
    pub service: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
    /// The skew window, seconds.
    pub max_skew: i64,
}

/// Verify a parsed authorization against the request and the secret.
pub fn verify(
    req: &Request<'_>,
    auth: &Authorization,
    secret: &[u8],
    expect: &Expect<'_>,
) -> KmsResult<()> {
    let amz_date = req
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| sig_err("The request must carry an X-Amz-Date header"))?;
    let t = parse_amz_date(amz_date).ok_or_else(|| sig_err("X-Amz-Date is malformed"))?;
    if !amz_date.starts_with(&auth.date) {
        return Err(sig_err("Credential date does not match X-Amz-Date"));
    }
    if auth.region != expect.region {
        return Err(sig_err(format!(
            "Credential should be scoped to a valid region, not '{}'",
            auth.region
        )));
    }
    if auth.service != expect.service {
        return Err(sig_err(format!(
            "Credential should be scoped to correct service: '{}'",
            expect.service
        )));
    }
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(sig_err(format!("The {required} header must be signed")));
        }
    }
    if (expect.now - t).abs() > expect.max_skew {
        return Err(sig_err(format!(
            "Signature expired: {amz_date} is outside the allowed clock skew of {} seconds",
            expect.max_skew
        )));
    }
    let creq = canonical_request(req, &auth.signed_headers)?;
    let computed = signature(secret, amz_date, auth, &creq);
    if bool::from(computed.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(sig_err(
            "The request signature we calculated does not match the signature you provided.",
        ))
    }
}

#[cfg(test)]
mod tests;
