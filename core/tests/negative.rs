//! Adversarial decryption: every corruption must fail with the right typed
//! error code, and the streaming decryptor must never release plaintext that
//! is not an authenticated, frame-aligned prefix of the real plaintext.

mod support_det;

use std::collections::{BTreeMap, BTreeSet};

use kms_envelope_core::body::derive_keys;
use kms_envelope_core::crypto::rustcrypto::RustCrypto;
use kms_envelope_core::header::HeaderAuth;
use kms_envelope_core::keyring::BoxFuture;
use kms_envelope_core::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use kms_envelope_core::{
    decrypt, AlgorithmSuite, CommitmentPolicy, DecryptOptions, EncryptOptions, Error, Header,
    Keyring, Limit, Limits, MultiKeyring, SecretBytes,
};
use support_det::layout::{regions, unit_boundaries};
use support_det::*;

const FRAME: u32 = 32;

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn enc_options(suite: AlgorithmSuite, frame_length: u32) -> EncryptOptions {
    let mut o = EncryptOptions::default();
    o.suite = Some(suite);
    o.frame_length = frame_length;
    o.commitment_policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    o.encryption_context.insert("purpose", "test");
    o.encryption_context.insert("tenant", "acme");
    o
}

fn dec_options() -> DecryptOptions {
    let mut o = DecryptOptions::default();
    o.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
    o
}

fn one_shot(kr: &dyn Keyring, msg: &[u8], o: &DecryptOptions) -> Result<Vec<u8>, Error> {
    pollster::block_on(decrypt(kr, msg, o)).map(|d| d.plaintext)
}

fn code(r: &Result<impl Sized, Error>) -> &'static str {
    match r {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}

const SUITES: [AlgorithmSuite; 3] = [
    AlgorithmSuite::Aes256GcmHkdfSha512Commit,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384,
    AlgorithmSuite::Aes256GcmHkdfSha256,
];

/// The codes a single-byte flip in each region may produce. Regions whose
/// length fields reshape the rest of the header are not determined: there any
/// decrypt-failure code is accepted (but never success).
fn allowed(region: &str, v2: bool) -> Option<&'static [&'static str]> {
    Some(match region {
        "version" => &["UNSUPPORTED_VERSION"],
        "message_type" | "content_type" | "reserved" | "iv_length" | "frame_seq" | "final_seq" => {
            &["MALFORMED_MESSAGE"]
        }
        // Another real suite id fails the public-key check, or (0x0178 -> 0x0078)
        // derives a different key.
        "suite_id" => &[
            "UNSUPPORTED_SUITE",
            "MALFORMED_MESSAGE",
            "HEADER_AUTH_FAILED",
        ],
        // The message id salts the commit key (v2) or is in the KDF info (v1).
        "message_id" if v2 => &["COMMITMENT_MISMATCH"],
        "message_id" => &["HEADER_AUTH_FAILED"],
        // A different context no longer matches the wrapped key's AAD.
        "ec" => &["MALFORMED_MESSAGE", "KEYRING_ERROR"],
        "edk_provider_id" => &["NO_DECRYPTABLE_KEY", "MALFORMED_MESSAGE"],
        "edk_info_name" | "edk_info_lengths" => &["NO_DECRYPTABLE_KEY"],
        "edk_info_iv" | "edk_ciphertext" => &["KEYRING_ERROR"],
        "frame_length" => &["HEADER_AUTH_FAILED", "LIMIT_EXCEEDED"],
        "suite_data" => &["COMMITMENT_MISMATCH"],
        "header_iv" | "header_tag" => &["HEADER_AUTH_FAILED"],
        "frame_iv" | "frame_ciphertext" | "frame_tag" | "final_iv" | "final_ciphertext"
        | "final_tag" => &["BODY_AUTH_FAILED"],
        // Seen as a regular frame with a wrong sequence number, or one that
        // runs past the end of the message.
        "final_marker" => &["MALFORMED_MESSAGE", "TRUNCATED_MESSAGE"],
        "final_length" => &["MALFORMED_MESSAGE", "TRUNCATED_MESSAGE", "BODY_AUTH_FAILED"],
        "footer_length" => &["TRUNCATED_MESSAGE", "SIGNATURE_INVALID"],
        "footer_signature" => &["SIGNATURE_INVALID"],
        "ec_len" | "edk_count" | "edk_len" => return None,
        other => panic!("unknown region {other}"),
    })
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let pt = plaintext(100);
    let kr = keyring();
    let dopt = dec_options();
    for (si, suite) in SUITES.into_iter().enumerate() {
        let msg = det_encrypt(si as u64, &pt, &enc_options(suite, FRAME), &[usize::MAX]);
        assert_eq!(one_shot(&kr, &msg, &dopt).unwrap(), pt);
        let layout = regions(&msg);
        let v2 = suite.is_committing();
        let mut table: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (i, region) in layout.iter().enumerate() {
            for x in [0x01u8, 0xff] {
                let mut bad = msg.clone();
                bad[i] ^= x;
                let what = format!("suite {:04x} offset {i} ({region}) ^{x:02x}", suite.id());
                let r1 = one_shot(&kr, &bad, &dopt);
                let sizes = [1 + (i * 7) % 23, 1 + (i * 13) % 61];
                let (released, r2) = stream_decrypt(&kr, &bad, &dopt, &sizes);
                let (c1, c2) = (code(&r1), code(&r2));
                assert_ne!(c1, "OK", "{what}: one-shot decrypt succeeded");
                assert_ne!(c2, "OK", "{what}: streaming decrypt succeeded");
                assert!(r1.unwrap_err().is_decrypt_failure(), "{what}: {c1}");
                assert_eq!(c1, c2, "{what}: one-shot and streaming disagree");
                assert_frame_prefix(&released, &pt, FRAME as usize, &what);
                if suite.is_signed() {
                    assert_no_final_frame(&released, &pt, FRAME as usize, &what);
                }
                if let Some(ok) = allowed(region, v2) {
                    assert!(ok.contains(&c1), "{what}: unexpected {c1}, allowed {ok:?}");
                }
                table.entry(region).or_default().insert(c1);
            }
        }
        println!("suite 0x{:04x}, {} bytes:", suite.id(), msg.len());
        for (region, codes) in &table {
            println!("  {region:18} {codes:?}");
        }
        // The regions that pin one code did produce it.
        for (region, want) in [
            ("frame_tag", "BODY_AUTH_FAILED"),
            ("final_tag", "BODY_AUTH_FAILED"),
            ("header_tag", "HEADER_AUTH_FAILED"),
            ("edk_ciphertext", "KEYRING_ERROR"),
            ("edk_info_name", "NO_DECRYPTABLE_KEY"),
        ] {
            assert_eq!(table[region], BTreeSet::from([want]), "{region}");
        }
        if v2 {
            assert_eq!(table["suite_data"], BTreeSet::from(["COMMITMENT_MISMATCH"]));
        }
        if suite.is_signed() {
            assert_eq!(
                table["footer_signature"],
                BTreeSet::from(["SIGNATURE_INVALID"])
            );
        }
    }
}

#[test]
fn truncation_at_every_offset_small_message() {
    let pt = plaintext(100);
    let kr = keyring();
    let dopt = dec_options();
    for (si, suite) in SUITES.into_iter().enumerate() {
        let msg = det_encrypt(10 + si as u64, &pt, &enc_options(suite, FRAME), &[7]);
        for cut in 0..msg.len() {
            let what = format!("suite {:04x} cut at {cut}/{}", suite.id(), msg.len());
            let r = one_shot(&kr, &msg[..cut], &dopt);
            assert_eq!(code(&r), "TRUNCATED_MESSAGE", "{what}");
            let (released, r) = stream_decrypt(&kr, &msg[..cut], &dopt, &[1 + cut % 17]);
            assert_eq!(code(&r), "TRUNCATED_MESSAGE", "{what} (streaming)");
            assert_frame_prefix(&released, &pt, FRAME as usize, &what);
            if suite.is_signed() {
                assert_no_final_frame(&released, &pt, FRAME as usize, &what);
            }
        }
    }
}

#[test]
fn truncation_at_every_frame_boundary_big_message() {
    let pt = plaintext(40 * 1024 + 123);
    let frame = 1024usize;
    let kr = keyring();
    let dopt = dec_options();
    for suite in [SUITES[0], SUITES[1]] {
        let msg = det_encrypt(20, &pt, &enc_options(suite, frame as u32), &[4096]);
        let bounds = unit_boundaries(&msg);
        assert_eq!(
            bounds.len(),
            42,
            "40 regular frames, the final frame, the end"
        );
        for (k, &cut) in bounds.iter().enumerate() {
            if cut == msg.len() {
                continue;
            }
            let what = format!("suite {:04x} cut before unit {k}", suite.id());
            let (released, r) = stream_decrypt(&kr, &msg[..cut], &dopt, &[3000]);
            assert_eq!(code(&r), "TRUNCATED_MESSAGE", "{what}");
            // Everything before the cut was authentic and is released, except
            // a signed message's final frame, held for the missing signature.
            let releasable = if suite.is_signed() {
                regular_frame_bytes(pt.len(), frame)
            } else {
                pt.len()
            };
            assert_eq!(released, &pt[..(k * frame).min(releasable)], "{what}");
            let r = one_shot(&kr, &msg[..cut], &dopt);
            assert_eq!(code(&r), "TRUNCATED_MESSAGE", "{what}");
        }
    }
}

#[test]
fn wrong_keys() {
    let pt = plaintext(100);
    let msg = det_encrypt(30, &pt, &enc_options(SUITES[0], FRAME), &[100]);
    let dopt = dec_options();
    let other_bytes = aes_keyring(KEY_NAME, &[0x43; 32], None);
    assert_eq!(code(&one_shot(&other_bytes, &msg, &dopt)), "KEYRING_ERROR");
    let other_name = aes_keyring("other-key", &WRAPPING_KEY, None);
    assert_eq!(
        code(&one_shot(&other_name, &msg, &dopt)),
        "NO_DECRYPTABLE_KEY"
    );
    // A multi-keyring that holds the right key after the wrong-name one works.
    let multi = MultiKeyring::new(None, vec![Box::new(other_name), Box::new(keyring())]).unwrap();
    assert_eq!(one_shot(&multi, &msg, &dopt).unwrap(), pt);
}

#[test]
fn reproduced_encryption_context_must_match() {
    let pt = plaintext(50);
    let msg = det_encrypt(31, &pt, &enc_options(SUITES[0], FRAME), &[100]);
    let kr = keyring();
    let mut dopt = dec_options();
    dopt.encryption_context.insert("tenant", "other");
    assert_eq!(
        code(&one_shot(&kr, &msg, &dopt)),
        "ENCRYPTION_CONTEXT_MISMATCH"
    );
    let mut dopt = dec_options();
    dopt.encryption_context.insert("tenant", "acme");
    assert_eq!(one_shot(&kr, &msg, &dopt).unwrap(), pt);
}

/// A keyring whose data key is fixed and that ignores the encryption
/// context, so that only the message format's own checks are exercised.
struct FixedKeyring([u8; 32]);

impl Keyring for FixedKeyring {
    fn on_encrypt<'a>(
        &'a self,
        mut m: EncryptionMaterials,
    ) -> BoxFuture<'a, kms_envelope_core::Result<EncryptionMaterials>> {
        Box::pin(async move {
            m.plaintext_data_key = Some(SecretBytes::from_slice(&self.0));
            m.encrypted_data_keys.push(EncryptedDataKey {
                provider_id: b"fixed".to_vec(),
                provider_info: b"k".to_vec(),
                ciphertext: b"-".to_vec(),
            });
            Ok(m)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        mut m: DecryptionMaterials,
        _edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, kms_envelope_core::Result<DecryptionMaterials>> {
        Box::pin(async move {
            m.plaintext_data_key = Some(SecretBytes::from_slice(&self.0));
            Ok(m)
        })
    }
}

#[test]
fn required_encryption_context() {
    let pt = plaintext(70);
    let mut eo = enc_options(SUITES[0], FRAME);
    eo.required_encryption_context_keys = vec!["tenant".into()];
    let fixed = FixedKeyring([9; 32]);
    for (name, kr, msg) in [
        (
            "raw AES",
            &keyring() as &dyn Keyring,
            det_encrypt(32, &pt, &eo, &[64]),
        ),
        (
            "fixed",
            &fixed,
            pollster::block_on(kms_envelope_core::encrypt(&fixed, &pt, &eo)).unwrap(),
        ),
    ] {
        // The required pair is authenticated but not stored.
        let h = Header::parse(&msg, &Limits::default())
            .unwrap()
            .unwrap()
            .header;
        assert_eq!(h.encryption_context.get("tenant"), None, "{name}");
        assert_eq!(h.encryption_context.get("purpose"), Some("test"), "{name}");
        // Without it: the raw AES keyring's wrapping AAD (the whole context)
        // fails first; a keyring that ignores the context leaves it to the
        // header tag.
        let missing = if name == "raw AES" {
            "KEYRING_ERROR"
        } else {
            "HEADER_AUTH_FAILED"
        };
        assert_eq!(code(&one_shot(kr, &msg, &dec_options())), missing, "{name}");
        let mut wrong = dec_options();
        wrong.encryption_context.insert("tenant", "evil");
        assert_eq!(
            code(&one_shot(kr, &msg, &wrong)),
            missing,
            "{name} wrong value"
        );
        let mut right = dec_options();
        right.encryption_context.insert("tenant", "acme");
        let d = pollster::block_on(decrypt(kr, &msg, &right)).unwrap();
        assert_eq!(d.plaintext, pt, "{name}");
        assert_eq!(d.encryption_context.get("tenant"), Some("acme"), "{name}");
        // Reproducing a stored pair as well is fine.
        right.encryption_context.insert("purpose", "test");
        assert_eq!(one_shot(kr, &msg, &right).unwrap(), pt, "{name}");
    }
}

/// Re-serialise `msg`'s header with `edit` applied, with a header tag
/// recomputed under the real derived content key, and keep its body.
fn reseal_header(msg: &[u8], data_key: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
    let p = Header::parse(msg, &Limits::default()).unwrap().unwrap();
    let mut h = p.header.clone();
    edit(&mut h);
    let keys = derive_keys(&RustCrypto, h.suite, data_key, &h.message_id).unwrap();
    let mut out = h.serialize_body().unwrap();
    let iv = p.auth.iv;
    let tag = keys.content_key.seal_in_place(&iv, &out, &mut []).unwrap();
    // The forged tag is valid for the edited header body.
    let mut check = [0u8; 0];
    assert!(keys
        .content_key
        .open_in_place(&iv, &out, &mut check, &tag)
        .is_ok());
    h.serialize_auth(&HeaderAuth { iv, tag }, &mut out);
    out.extend_from_slice(&msg[p.total_len..]);
    out
}

#[test]
fn forged_commitment_is_caught_by_the_commitment_check() {
    let pt = plaintext(100);
    let kr = FixedKeyring([5; 32]);
    let dopt = dec_options();
    for suite in [SUITES[0], SUITES[1]] {
        let msg = pollster::block_on(kms_envelope_core::encrypt(
            &kr,
            &pt,
            &enc_options(suite, FRAME),
        ))
        .unwrap();
        // Control: resealing without an edit reproduces the message exactly.
        assert_eq!(reseal_header(&msg, &[5; 32], |_| {}), msg);
        for flip in [0usize, 17, 31] {
            let forged = reseal_header(&msg, &[5; 32], |h| h.suite_data[flip] ^= 0x80);
            assert_ne!(forged, msg);
            let r = one_shot(&kr, &forged, &dopt);
            assert_eq!(code(&r), "COMMITMENT_MISMATCH", "suite {:04x}", suite.id());
            let (released, r) = stream_decrypt(&kr, &forged, &dopt, &[5]);
            assert_eq!(code(&r), "COMMITMENT_MISMATCH");
            assert!(released.is_empty());
        }
        // Controls: the two checks are distinct. A header tag made under
        // another key, with the right commitment, fails the header tag...
        let bad_tag = reseal_header(&msg, &[6; 32], |_| {});
        assert_eq!(code(&one_shot(&kr, &bad_tag, &dopt)), "HEADER_AUTH_FAILED");
        // ...and the forgeries above carried a tag that verifies, so only the
        // commitment check stood between them and the body.
    }
}

#[test]
fn policies_and_unsigned_only() {
    let pt = plaintext(40);
    let kr = keyring();
    let signed = det_encrypt(40, &pt, &enc_options(SUITES[1], FRAME), &[40]);
    let mut o = dec_options();
    o.unsigned_only = true;
    assert_eq!(code(&one_shot(&kr, &signed, &o)), "SIGNED_MESSAGE_REFUSED");
    let v1_signed = det_encrypt(
        41,
        &pt,
        &enc_options(AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384, FRAME),
        &[40],
    );
    assert_eq!(
        code(&one_shot(&kr, &v1_signed, &o)),
        "SIGNED_MESSAGE_REFUSED"
    );
    // unsigned_only still decrypts unsigned messages.
    let unsigned = det_encrypt(42, &pt, &enc_options(SUITES[0], FRAME), &[40]);
    assert_eq!(one_shot(&kr, &unsigned, &o).unwrap(), pt);

    let v1 = det_encrypt(43, &pt, &enc_options(SUITES[2], FRAME), &[40]);
    let strict = DecryptOptions::default();
    assert_eq!(
        strict.commitment_policy,
        CommitmentPolicy::RequireEncryptRequireDecrypt
    );
    assert_eq!(
        code(&one_shot(&kr, &v1, &strict)),
        "COMMITMENT_POLICY_VIOLATION"
    );
    assert_eq!(one_shot(&kr, &v1, &dec_options()).unwrap(), pt);
    // Encrypting against the policy is refused too.
    let mut eo = enc_options(SUITES[2], FRAME);
    eo.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
    let r = pollster::block_on(kms_envelope_core::encrypt(&kr, &pt, &eo));
    assert_eq!(code(&r), "COMMITMENT_POLICY_VIOLATION");
}

#[test]
fn trailing_data() {
    let pt = plaintext(100);
    let kr = keyring();
    let dopt = dec_options();
    for (si, suite) in SUITES.into_iter().enumerate() {
        let mut msg = det_encrypt(50 + si as u64, &pt, &enc_options(suite, FRAME), &[100]);
        let len = msg.len();
        msg.push(0);
        assert_eq!(code(&one_shot(&kr, &msg, &dopt)), "TRAILING_DATA");
        // In the same chunk as the end of the message, or in a later one.
        for sizes in [vec![usize::MAX], vec![len], vec![len - 3, 4], vec![1]] {
            let (released, r) = stream_decrypt(&kr, &msg, &dopt, &sizes);
            assert_eq!(
                code(&r),
                "TRAILING_DATA",
                "suite {:04x} {sizes:?}",
                suite.id()
            );
            assert_frame_prefix(&released, &pt, FRAME as usize, "trailing");
        }
    }
}

fn limit_of(r: &Result<Vec<u8>, Error>) -> Option<Limit> {
    match r {
        Err(Error::LimitExceeded { limit, .. }) => Some(*limit),
        _ => None,
    }
}

#[test]
fn limits() {
    let pt = plaintext(100);
    let det = DetProvider::new(60);
    let k1 = aes_keyring(KEY_NAME, &WRAPPING_KEY, Some(det.dyn_arc()));
    let k2 = aes_keyring("second", &[0x11; 32], Some(det.dyn_arc()));
    let two = MultiKeyring::new(Some(Box::new(k1)), vec![Box::new(k2)]).unwrap();
    let mut eo = enc_options(SUITES[0], FRAME);
    eo.provider = Some(det.dyn_arc());
    let msg = pollster::block_on(kms_envelope_core::encrypt(&two, &pt, &eo)).unwrap();
    let kr = keyring();

    eo.max_encrypted_data_keys = Some(1);
    let r = pollster::block_on(kms_envelope_core::encrypt(&two, &pt, &eo));
    assert_eq!(limit_of(&r), Some(Limit::EncryptedDataKeys));

    let header_len = Header::parse(&msg, &Limits::default())
        .unwrap()
        .unwrap()
        .total_len;
    let body_len = (msg.len() - header_len) as u64;
    let with = |f: &dyn Fn(&mut Limits)| {
        let mut o = dec_options();
        f(&mut o.limits);
        o
    };
    type Edit<'a> = &'a dyn Fn(&mut Limits);
    let cases: [(Edit, Edit, Limit); 4] = [
        (
            &|l| l.max_encrypted_data_keys = Some(1),
            &|l| l.max_encrypted_data_keys = Some(2),
            Limit::EncryptedDataKeys,
        ),
        (
            &|l| l.max_header_size = header_len - 1,
            &|l| l.max_header_size = header_len,
            Limit::HeaderSize,
        ),
        (
            &|l| l.max_frame_length = u64::from(FRAME) - 1,
            &|l| l.max_frame_length = u64::from(FRAME),
            Limit::FrameLength,
        ),
        (
            &|l| l.max_body_size = Some(body_len - 1),
            &|l| l.max_body_size = Some(body_len),
            Limit::BodySize,
        ),
    ];
    for (over, at, limit) in cases {
        let r = one_shot(&kr, &msg, &with(over));
        assert_eq!(limit_of(&r), Some(limit), "{limit:?}: {:?}", code(&r));
        assert_eq!(code(&r), "LIMIT_EXCEEDED");
        let (released, r) = stream_decrypt(&kr, &msg, &with(over), &[9]);
        assert_eq!(code(&r), "LIMIT_EXCEEDED", "{limit:?} streaming");
        assert_frame_prefix(&released, &pt, FRAME as usize, "limit");
        assert_eq!(
            one_shot(&kr, &msg, &with(at)).unwrap(),
            pt,
            "{limit:?} at the limit"
        );
    }
}
