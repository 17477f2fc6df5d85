use kms_envelope_core::*;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("ns", "k1", SecretBytes::new(vec![7u8; 32])).unwrap()
}

#[test]
fn roundtrip_every_writable_suite() {
    let kr = keyring();
    for (suite, policy) in [
        (
            AlgorithmSuite::Aes256GcmHkdfSha512Commit,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
        ),
        (
            AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
        ),
        (
            AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384,
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ),
        (
            AlgorithmSuite::Aes128GcmNoKdf,
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ),
    ] {
        for len in [0usize, 1, 99, 100, 101, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut eo = EncryptOptions::default();
            eo.suite = Some(suite);
            eo.frame_length = 100;
            eo.commitment_policy = policy;
            eo.encryption_context.insert("tenant", "a");
            let ct = pollster::block_on(encrypt(&kr, &pt, &eo)).unwrap();
            let mut dopt = DecryptOptions::default();
            dopt.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
            let out = pollster::block_on(decrypt(&kr, &ct, &dopt)).unwrap();
            assert_eq!(out.plaintext, pt, "suite {suite:?} len {len}");
            assert_eq!(out.header.suite, suite);
            assert_eq!(out.encryption_context.get("tenant"), Some("a"));
            let predicted = ciphertext_length(len as u64, &eo, &kr).unwrap().unwrap();
            let enc = pollster::block_on(Encryptor::new(&kr, &eo)).unwrap();
            let from_encryptor = enc.ciphertext_length(len as u64).unwrap();
            assert_eq!(predicted, ct.len() as u64, "suite {suite:?} len {len}");
            assert_eq!(from_encryptor, ct.len() as u64);
        }
    }
}

#[test]
fn decrypt_in_chunks_of_every_small_size() {
    let kr = keyring();
    let pt: Vec<u8> = (0..777u32).map(|i| (i * 7) as u8).collect();
    let mut eo = EncryptOptions::default();
    eo.frame_length = 64;
    eo.suite = Some(AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384);
    let ct = pollster::block_on(encrypt(&kr, &pt, &eo)).unwrap();
    for chunk in [1usize, 2, 3, 7, 31, 64, 65, 96, 500, 100_000] {
        let mut dec = Decryptor::new(DecryptOptions::default());
        let mut out = Vec::new();
        for c in ct.chunks(chunk) {
            pollster::block_on(dec.update_with(&kr, c, &mut out)).unwrap();
        }
        dec.finish().unwrap();
        assert_eq!(out, pt, "chunk size {chunk}");
    }
}
