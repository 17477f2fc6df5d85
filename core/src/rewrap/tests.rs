//! Tests of the header rewrite: real messages, real keyrings.

use super::*;
use crate::keyring::RawAesKeyring;
use crate::secret::SecretBytes;
use crate::suite::AlgorithmSuite;
use crate::{decrypt, encrypt, EncryptOptions};
use pollster::block_on;

fn aes(name: &str, byte: u8) -> RawAesKeyring {
    RawAesKeyring::new("test-ns", name, SecretBytes::new(vec![byte; 32])).unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn seal(
    keyring: &RawAesKeyring,
    ec: &EncryptionContext,
    suite: AlgorithmSuite,
    policy: CommitmentPolicy,
    n: usize,
) -> Vec<u8> {
    let o = EncryptOptions {
        encryption_context: ec.clone(),
        suite: Some(suite),
        commitment_policy: policy,
        frame_length: 4096,
        ..Default::default()
    };
    block_on(encrypt(keyring, &plaintext(n), &o)).unwrap()
}

fn open(keyring: &RawAesKeyring, msg: &[u8], ec: &EncryptionContext) -> Result<Vec<u8>> {
    let o = DecryptOptions {
        encryption_context: ec.clone(),
        ..Default::default()
    };
    block_on(decrypt(keyring, msg, &o)).map(|d| d.plaintext)
}

fn opts(old: &EncryptionContext, new: &EncryptionContext) -> RewrapOptions {
    RewrapOptions {
        encryption_context: old.clone(),
        new_encryption_context: new.clone(),
        ..Default::default()
    }
}

struct Split {
    msg: Vec<u8>,
    hlen: usize,
}

fn split(msg: Vec<u8>) -> Split {
    let hlen = header_length(&msg, &Limits::default()).unwrap().unwrap();
    Split { msg, hlen }
}

#[test]
fn header_length_needs_the_whole_header() {
    let a = aes("a", 1);
    let s = split(seal(
        &a,
        &ctx(&[("owner", "alice")]),
        AlgorithmSuite::ALL[9],
        CommitmentPolicy::default(),
        10,
    ));
    let limits = Limits::default();
    for n in 0..s.hlen {
        assert_eq!(
            header_length(&s.msg[..n], &limits).unwrap(),
            None,
            "prefix {n}"
        );
    }
    assert_eq!(
        header_length(&s.msg[..s.hlen], &limits).unwrap(),
        Some(s.hlen)
    );
    assert_eq!(header_length(&s.msg, &limits).unwrap(), Some(s.hlen));
    assert_eq!(
        header_length(&[9, 9, 9], &limits).unwrap_err().code(),
        "UNSUPPORTED_VERSION"
    );
}

#[test]
fn rewritten_header_with_the_untouched_body_decrypts_for_the_new_reader_only() {
    let (a, b) = (aes("alice", 1), aes("bob", 2));
    let old_ec = ctx(&[("owner", "alice"), ("purpose", "upload")]);
    let new_ec = ctx(&[("owner", "alice"), ("purpose", "upload"), ("reader", "bob")]);
    for n in [0usize, 1, 4096, 4097, 100_000] {
        let s = split(seal(
            &a,
            &old_ec,
            AlgorithmSuite::ALL[9],
            CommitmentPolicy::default(),
            n,
        ));
        let (head, body) = s.msg.split_at(s.hlen);
        let new_head = block_on(rewrap_header(head, &a, &b, &opts(&old_ec, &new_ec))).unwrap();
        let new_parsed = Header::parse(&new_head, &Limits::default())
            .unwrap()
            .unwrap();
        let old_parsed = Header::parse(head, &Limits::default()).unwrap().unwrap();
        assert_eq!(new_parsed.total_len, new_head.len());
        assert_eq!(new_parsed.header.message_id, old_parsed.header.message_id);
        assert_eq!(new_parsed.header.suite_data, old_parsed.header.suite_data);
        assert_eq!(
            new_parsed.header.frame_length,
            old_parsed.header.frame_length
        );
        assert_eq!(new_parsed.header.encryption_context, new_ec);
        assert_ne!(
            new_parsed.header.encrypted_data_keys,
            old_parsed.header.encrypted_data_keys
        );
        let mut msg = new_head.clone();
        msg.extend_from_slice(body);
        assert_eq!(open(&b, &msg, &new_ec).unwrap(), plaintext(n), "size {n}");
        // The reader's key does not open the old message, nor the owner's key the new one.
        assert_eq!(
            open(&b, &s.msg, &old_ec).unwrap_err().code(),
            "NO_DECRYPTABLE_KEY"
        );
        assert_eq!(
            open(&a, &msg, &new_ec).unwrap_err().code(),
            "NO_DECRYPTABLE_KEY"
        );
        // The stored context is bound: reproducing the old one fails.
        assert_eq!(
            open(&b, &msg, &ctx(&[("reader", "carol")]))
                .unwrap_err()
                .code(),
            "ENCRYPTION_CONTEXT_MISMATCH"
        );
    }
}

#[test]
fn every_byte_of_the_new_header_is_authenticated() {
    let (a, b) = (aes("alice", 1), aes("bob", 2));
    let ec = ctx(&[("owner", "alice")]);
    let new_ec = ctx(&[("owner", "alice"), ("reader", "bob")]);
    let s = split(seal(
        &a,
        &ec,
        AlgorithmSuite::ALL[9],
        CommitmentPolicy::default(),
        5000,
    ));
    let (head, body) = s.msg.split_at(s.hlen);
    let new_head = block_on(rewrap_header(head, &a, &b, &opts(&ec, &new_ec))).unwrap();
    let mut failures = 0;
    for i in 0..new_head.len() {
        let mut msg = new_head.clone();
        msg[i] ^= 0x01;
        msg.extend_from_slice(body);
        // Never any plaintext from a tampered header.
        assert!(
            open(&b, &msg, &EncryptionContext::new()).is_err(),
            "flip at {i} decrypted"
        );
        failures += 1;
    }
    assert_eq!(failures, new_head.len());
    // A header tag made with another data key fails with HEADER_AUTH_FAILED even with a valid key.
    let mut msg = new_head.clone();
    let n = msg.len();
    msg[n - 1] ^= 0x80;
    msg.extend_from_slice(body);
    assert_eq!(
        open(&b, &msg, &new_ec).unwrap_err().code(),
        "HEADER_AUTH_FAILED"
    );
}

#[test]
fn the_old_header_is_verified_before_anything_is_wrapped() {
    let (a, b) = (aes("alice", 1), aes("bob", 2));
    let ec = ctx(&[("owner", "alice")]);
    let s = split(seal(
        &a,
        &ec,
        AlgorithmSuite::ALL[9],
        CommitmentPolicy::default(),
        10,
    ));
    let head = &s.msg[..s.hlen];
    // Tampered tag, tampered commitment, wrong keyring, wrong context.
    let mut t = head.to_vec();
    let n = t.len();
    t[n - 3] ^= 4;
    assert_eq!(
        block_on(rewrap_header(&t, &a, &b, &opts(&ec, &ec)))
            .unwrap_err()
            .code(),
        "HEADER_AUTH_FAILED"
    );
    let mut c = head.to_vec();
    c[n - 16 - 5] ^= 4; // inside the 32-byte commitment, just before the tag
    assert_eq!(
        block_on(rewrap_header(&c, &a, &b, &opts(&ec, &ec)))
            .unwrap_err()
            .code(),
        "COMMITMENT_MISMATCH"
    );
    assert_eq!(
        block_on(rewrap_header(head, &b, &b, &opts(&ec, &ec)))
            .unwrap_err()
            .code(),
        "NO_DECRYPTABLE_KEY"
    );
    let wrong = ctx(&[("owner", "mallory")]);
    assert_eq!(
        block_on(rewrap_header(head, &a, &b, &opts(&wrong, &ec)))
            .unwrap_err()
            .code(),
        "ENCRYPTION_CONTEXT_MISMATCH"
    );
    // Exactly one header: truncated, or with body bytes after it.
    assert_eq!(
        block_on(rewrap_header(&head[..n - 1], &a, &b, &opts(&ec, &ec)))
            .unwrap_err()
            .code(),
        "TRUNCATED_MESSAGE"
    );
    assert_eq!(
        block_on(rewrap_header(&s.msg, &a, &b, &opts(&ec, &ec)))
            .unwrap_err()
            .code(),
        "TRAILING_DATA"
    );
    // The reserved public-key field cannot be put into the new context.
    let bad = ctx(&[(PUBLIC_KEY_FIELD, "x")]);
    assert_eq!(
        block_on(rewrap_header(head, &a, &b, &opts(&ec, &bad)))
            .unwrap_err()
            .code(),
        "ENCRYPTION_CONTEXT_MISMATCH"
    );
}

#[test]
fn required_encryption_context_of_the_old_header_must_be_reproduced() {
    let (a, b) = (aes("alice", 1), aes("bob", 2));
    let full = ctx(&[("owner", "alice"), ("tenant", "t1")]);
    let o = EncryptOptions {
        encryption_context: full.clone(),
        required_encryption_context_keys: vec!["tenant".into()],
        ..Default::default()
    };
    let s = split(block_on(encrypt(&a, &plaintext(3000), &o)).unwrap());
    let (head, body) = s.msg.split_at(s.hlen);
    let new_ec = ctx(&[("owner", "alice"), ("reader", "bob")]);
    // Without the required pair nothing verifies (the raw AES keyring binds the whole
    // context, so its unwrap fails before the header tag is even tried).
    let e = block_on(rewrap_header(
        head,
        &a,
        &b,
        &opts(&ctx(&[("owner", "alice")]), &new_ec),
    ))
    .unwrap_err();
    assert!(e.is_decrypt_failure(), "{e}");
    let new_head = block_on(rewrap_header(head, &a, &b, &opts(&full, &new_ec))).unwrap();
    let mut msg = new_head;
    msg.extend_from_slice(body);
    assert_eq!(open(&b, &msg, &new_ec).unwrap(), plaintext(3000));
}

#[test]
fn signed_suites_and_v1_messages_are_refused() {
    let (a, b) = (aes("alice", 1), aes("bob", 2));
    let ec = ctx(&[("owner", "alice")]);
    for suite in AlgorithmSuite::ALL {
        if suite.message_format_version() == 2 && !suite.is_signed() {
            continue;
        }
        let policy = if suite.is_committing() {
            CommitmentPolicy::default()
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        let s = split(seal(&a, &ec, suite, policy, 100));
        let e = block_on(rewrap_header(&s.msg[..s.hlen], &a, &b, &opts(&ec, &ec))).unwrap_err();
        assert_eq!(e.code(), "UNSUPPORTED_SUITE", "suite 0x{:04x}", suite.id());
        assert!(e.to_string().contains(&format!("{:04x}", suite.id())));
    }
}

#[test]
fn several_new_keys_and_a_key_count_limit() {
    let (a, b, c) = (aes("alice", 1), aes("bob", 2), aes("carol", 3));
    let ec = ctx(&[("owner", "alice")]);
    let s = split(seal(
        &a,
        &ec,
        AlgorithmSuite::ALL[9],
        CommitmentPolicy::default(),
        9000,
    ));
    let (head, body) = s.msg.split_at(s.hlen);
    let multi = crate::MultiKeyring::new(
        None,
        vec![Box::new(aes("bob", 2)), Box::new(aes("carol", 3))],
    )
    .unwrap();
    let mut o = opts(&ec, &ec);
    let new_head = block_on(rewrap_header(head, &a, &multi, &o)).unwrap();
    for k in [&b, &c] {
        let mut msg = new_head.clone();
        msg.extend_from_slice(body);
        assert_eq!(open(k, &msg, &ec).unwrap(), plaintext(9000));
    }
    o.max_encrypted_data_keys = Some(1);
    assert_eq!(
        block_on(rewrap_header(head, &a, &multi, &o))
            .unwrap_err()
            .code(),
        "LIMIT_EXCEEDED"
    );
}

/// Messages written by the official .NET ESDK (testdata/esdk-official/net-4.0.1, suite 0x0478,
/// raw AES-256 key): each one's header is rewritten for another key and context, and the new
/// header with the official body decrypts to the vector's plaintext.
#[test]
fn official_messages_are_rewritten() {
    use base64::Engine;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/esdk-official/net-4.0.1");
    let read = |rel: &str| std::fs::read(dir.join(rel.trim_start_matches("file://"))).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    let keys: serde_json::Value = serde_json::from_slice(&read("keys.json")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(keys["keys"]["aes-256"]["material"].as_str().unwrap())
        .unwrap();
    let official = RawAesKeyring::new(
        "aws-raw-vectors-persistant",
        "aes-256",
        SecretBytes::new(key),
    )
    .unwrap();
    let b = aes("bob", 2);
    let mut n = 0;
    for (name, t) in manifest["tests"].as_object().unwrap() {
        let mk = &t["master-keys"];
        let raw_aes = mk.as_array().unwrap().len() == 1
            && mk[0]["type"] == "raw"
            && mk[0]["key"] == "aes-256";
        if !name.starts_with("0478") || !raw_aes {
            continue;
        }
        let msg = read(t["ciphertext"].as_str().unwrap());
        let pt = read(t["result"]["output"]["plaintext"].as_str().unwrap());
        let mut old_ec = EncryptionContext::new();
        for (k, v) in t["encryption-context"].as_object().unwrap() {
            old_ec.insert(k.clone(), v.as_str().unwrap().to_string());
        }
        let mut new_ec = old_ec.clone();
        new_ec.insert("reader", "bob");
        let s = split(msg);
        let (head, body) = s.msg.split_at(s.hlen);
        let new_head =
            block_on(rewrap_header(head, &official, &b, &opts(&old_ec, &new_ec))).unwrap();
        let mut m = new_head;
        m.extend_from_slice(body);
        assert_eq!(open(&b, &m, &new_ec).unwrap(), pt, "{name}");
        n += 1;
    }
    assert!(n >= 3, "only {n} official 0x0478 raw AES messages");
}
