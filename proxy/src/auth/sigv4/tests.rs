use super::*;
use axum::http::{HeaderMap, HeaderValue};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T: &str = "20150830T123600Z";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn auth_header(sig: &str, signed: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed}, Signature={sig}"
    )
}

fn expect(now: i64) -> Expect<'static> {
    Expect {
        region: "us-east-1",
        service: "service",
        now,
        max_skew: 300,
    }
}

fn t0() -> i64 {
    parse_amz_date(T).unwrap()
}

/// AWS's documented Signature Version 4 test suite, "get-vanilla" and
/// "get-vanilla-query-order-key-case" (AKIDEXAMPLE, 2015-08-30T12:36:00Z,
/// us-east-1, service "service").
#[test]
fn aws_test_suite_get_vanilla_verifies() {
    let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", T)]);
    for (query, sig) in [
        (
            "",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ] {
        let req = Request {
            method: "GET",
            path: "/",
            query,
            headers: &h,
            body: b"",
        };
        let auth = parse_authorization(&auth_header(sig, "host;x-amz-date")).unwrap();
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        verify(&req, &auth, SECRET, &expect(t0() + 10)).unwrap();
        // One changed hex digit fails.
        let mut bad = auth.clone();
        bad.signature
            .replace_range(0..1, if sig.starts_with('5') { "6" } else { "5" });
        let e = verify(&req, &bad, SECRET, &expect(t0())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        assert!(e.message.contains("does not match"));
        // A different secret fails.
        assert!(verify(&req, &auth, b"other", &expect(t0())).is_err());
    }
}

#[test]
fn tampering_with_body_method_or_headers_fails() {
    let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", T)]);
    let sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let auth = parse_authorization(&auth_header(sig, "host;x-amz-date")).unwrap();
    let base = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &h,
        body: b"",
    };
    verify(&base, &auth, SECRET, &expect(t0())).unwrap();
    let body = Request {
        body: b"{}",
        ..base
    };
    assert!(verify(&body, &auth, SECRET, &expect(t0())).is_err());
    let post = Request {
        method: "POST",
        body: b"",
        ..body
    };
    assert!(verify(&post, &auth, SECRET, &expect(t0())).is_err());
    let h2 = headers(&[("host", "evil.example.com"), ("x-amz-date", T)]);
    let host = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &h2,
        body: b"",
    };
    assert!(verify(&host, &auth, SECRET, &expect(t0())).is_err());
}

#[test]
fn clock_skew_scope_and_signed_header_rules() {
    let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", T)]);
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &h,
        body: b"",
    };
    let sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let auth = parse_authorization(&auth_header(sig, "host;x-amz-date")).unwrap();
    let e = verify(&req, &auth, SECRET, &expect(t0() + 301)).unwrap_err();
    assert!(e.message.contains("Signature expired"), "{}", e.message);
    assert!(verify(&req, &auth, SECRET, &expect(t0() - 301)).is_err());
    assert!(verify(&req, &auth, SECRET, &expect(t0() - 300)).is_ok());
    let wrong_region = Expect {
        region: "eu-west-1",
        ..expect(t0())
    };
    assert!(verify(&req, &auth, SECRET, &wrong_region)
        .unwrap_err()
        .message
        .contains("region"));
    let wrong_service = Expect {
        service: "kms",
        ..expect(t0())
    };
    assert!(verify(&req, &auth, SECRET, &wrong_service).is_err());
    let only_host = parse_authorization(&auth_header(sig, "host")).unwrap();
    assert!(verify(&req, &only_host, SECRET, &expect(t0())).is_err());
}

#[test]
fn malformed_authorization_headers_are_refused() {
    let sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    for bad in [
        "AWS4-HMAC-SHA1 Credential=a/20150830/us-east-1/s/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/s/aws4_request",
        "AWS4-HMAC-SHA256 Credential=a/2015/us-east-1/s/aws4_request, SignedHeaders=host, Signature=",
        "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/s/aws5_request, SignedHeaders=host, Signature=x",
    ] {
        assert!(parse_authorization(bad).is_err(), "{bad}");
    }
    assert!(parse_authorization(&auth_header(sig, "x-amz-date;host")).is_err());
    assert!(parse_authorization(&auth_header("zz", "host;x-amz-date")).is_err());
}

#[test]
fn amz_dates_parse_to_unix_seconds() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date(T), Some(1_440_938_160));
    assert_eq!(parse_amz_date("20150830T123600"), None);
    assert_eq!(parse_amz_date("2015083XT123600Z"), None);
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
}
