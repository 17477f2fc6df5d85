//! Property tests: round trips under random sizes, frame lengths and
//! chunkings; determinism under the seeded provider; exact lengths; header
//! serialisation as the inverse of parsing.

mod support_det;

use proptest::prelude::*;

use kms_envelope_core::header::HeaderAuth;
use kms_envelope_core::materials::EncryptedDataKey;
use kms_envelope_core::{
    ciphertext_length, AlgorithmSuite, CommitmentPolicy, ContentType, DecryptOptions,
    EncryptOptions, EncryptionContext, Encryptor, Header, Limits,
};
use support_det::*;

fn suite_strategy() -> impl Strategy<Value = AlgorithmSuite> {
    prop_oneof![
        4 => Just(AlgorithmSuite::Aes256GcmHkdfSha512Commit),
        2 => Just(AlgorithmSuite::Aes256GcmHkdfSha256),
        1 => Just(AlgorithmSuite::Aes128GcmNoKdf),
        1 => Just(AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384),
    ]
}

fn unsigned_suite() -> impl Strategy<Value = AlgorithmSuite> {
    prop_oneof![
        Just(AlgorithmSuite::Aes256GcmHkdfSha512Commit),
        Just(AlgorithmSuite::Aes192GcmHkdfSha256),
        Just(AlgorithmSuite::Aes128GcmNoKdf),
    ]
}

fn frame_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..64, 64u32..8192]
}

/// Chunk sizes, cycled over the input: tiny ones, then bigger ones.
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..8, 8usize..5000], 1..6)
}

fn options(suite: AlgorithmSuite, frame_length: u32, ec: &[(String, String)]) -> EncryptOptions {
    let mut o = EncryptOptions::default();
    o.suite = Some(suite);
    o.frame_length = frame_length;
    o.commitment_policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    for (k, v) in ec {
        o.encryption_context.insert(k.clone(), v.clone());
    }
    o
}

fn dec_options() -> DecryptOptions {
    let mut o = DecryptOptions::default();
    o.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
    o
}

fn context() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z]{1,8}", "\\PC{0,12}"), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_any_size_frame_and_chunking(
        pt in prop::collection::vec(any::<u8>(), 0..20_000),
        suite in suite_strategy(),
        frame in frame_strategy(),
        enc_chunks in chunking(),
        dec_chunks in chunking(),
        ec in context(),
        seed in any::<u64>(),
    ) {
        let eo = options(suite, frame, &ec);
        let msg = det_encrypt(seed, &pt, &eo, &enc_chunks);
        let (out, r) = stream_decrypt(&keyring(), &msg, &dec_options(), &dec_chunks);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(&out, &pt);
        // Exact lengths, from the encryptor and before any key exists.
        let det = DetProvider::new(seed);
        let kr = aes_keyring(KEY_NAME, &WRAPPING_KEY, Some(det.dyn_arc()));
        let mut eo2 = eo.clone();
        eo2.provider = Some(det.dyn_arc());
        let enc = pollster::block_on(Encryptor::new(&kr, &eo2)).unwrap();
        prop_assert_eq!(enc.ciphertext_length(pt.len() as u64), Some(msg.len() as u64));
        let predicted = ciphertext_length(pt.len() as u64, &eo, &kr).unwrap();
        prop_assert_eq!(predicted, Some(msg.len() as u64));
    }

    #[test]
    fn ciphertext_does_not_depend_on_chunking(
        pt in prop::collection::vec(any::<u8>(), 0..12_000),
        suite in unsigned_suite(),
        frame in frame_strategy(),
        a in chunking(),
        b in chunking(),
        seed in any::<u64>(),
    ) {
        let eo = options(suite, frame, &[("k".into(), "v".into())]);
        let whole = det_encrypt(seed, &pt, &eo, &[usize::MAX]);
        prop_assert_eq!(&det_encrypt(seed, &pt, &eo, &a), &whole);
        prop_assert_eq!(&det_encrypt(seed, &pt, &eo, &b), &whole);
        // ...but it does depend on the seed.
        prop_assert_ne!(&det_encrypt(seed ^ 1, &pt, &eo, &a), &whole);
    }

    #[test]
    fn header_reserialises_to_the_same_bytes(
        pt_len in 0usize..300,
        suite in suite_strategy(),
        frame in frame_strategy(),
        ec in context(),
        seed in any::<u64>(),
    ) {
        let msg = det_encrypt(seed, &vec![7u8; pt_len], &options(suite, frame, &ec), &[64]);
        let p = Header::parse(&msg, &Limits::default()).unwrap().unwrap();
        let mut bytes = p.header.serialize_body().unwrap();
        prop_assert_eq!(bytes.len(), p.body_len);
        p.header.serialize_auth(&p.auth, &mut bytes);
        prop_assert_eq!(&bytes[..], &msg[..p.total_len]);
    }

    #[test]
    fn random_headers_round_trip_and_every_prefix_is_incomplete(
        suite_idx in 0usize..AlgorithmSuite::ALL.len(),
        framed in any::<bool>(),
        frame in 1u32..=u32::MAX,
        ec in context(),
        edks in prop::collection::vec(
            ("\\PC{0,6}", prop::collection::vec(any::<u8>(), 0..40),
             prop::collection::vec(any::<u8>(), 0..60)),
            1..4),
        fill in any::<u8>(),
        iv in any::<[u8; 12]>(),
        tag in any::<[u8; 16]>(),
    ) {
        let suite = AlgorithmSuite::ALL[suite_idx];
        let header = Header {
            suite,
            message_id: vec![fill; suite.message_id_len()],
            encryption_context: ec.into_iter().collect::<EncryptionContext>(),
            encrypted_data_keys: edks
                .into_iter()
                .map(|(id, info, ct)| EncryptedDataKey {
                    provider_id: id.into_bytes(),
                    provider_info: info,
                    ciphertext: ct,
                })
                .collect(),
            content_type: if framed { ContentType::Framed } else { ContentType::NonFramed },
            frame_length: if framed { frame } else { 0 },
            suite_data: vec![fill ^ 0x5a; suite.suite_data_len()],
        };
        // Version 2 has no header IV: it is zero.
        let iv = if suite.message_format_version() == 1 { iv } else { [0; 12] };
        let auth = HeaderAuth { iv, tag };
        let mut bytes = header.serialize_body().unwrap();
        let body_len = bytes.len();
        header.serialize_auth(&auth, &mut bytes);
        let mut limits = Limits::default();
        limits.max_frame_length = u64::MAX;
        let p = Header::parse(&bytes, &limits).unwrap().unwrap();
        prop_assert_eq!(&p.header, &header);
        prop_assert_eq!(p.auth, auth);
        prop_assert_eq!((p.body_len, p.total_len), (body_len, bytes.len()));
        // Trailing bytes are not part of the header.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xAA; 5]);
        prop_assert_eq!(Header::parse(&longer, &limits).unwrap().unwrap().total_len, bytes.len());
        for cut in 0..bytes.len() {
            prop_assert!(Header::parse(&bytes[..cut], &limits).unwrap().is_none(), "cut {}", cut);
        }
    }
}
