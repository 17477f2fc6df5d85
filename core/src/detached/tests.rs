//! The detached machines against the core ones: byte-identical output with
//! the same randomness, and the same failures.

use std::sync::Arc;

use super::{DetachedDecryptor, DetachedEncryptor, UnitKind};
use crate::crypto::{default_provider, CryptoProvider};
use crate::seeded::SeededProvider;
use crate::{
    AlgorithmSuite, CommitmentPolicy, DecryptOptions, EncryptOptions, Encryptor, Error,
    RawAesKeyring, SecretBytes,
};

fn seeded(seed: &[u8]) -> Arc<dyn CryptoProvider> {
    Arc::new(SeededProvider::new(default_provider(), seed))
}

fn keyring(seed: &[u8]) -> RawAesKeyring {
    RawAesKeyring::with_provider(
        "ns",
        "k1",
        SecretBytes::new(vec![7u8; 32]),
        Some(seeded(seed)),
    )
    .unwrap()
}

fn options(suite: AlgorithmSuite, frame_length: u32, seed: &[u8]) -> EncryptOptions {
    let mut encryption_context = crate::EncryptionContext::new();
    encryption_context.insert("tenant", "a");
    EncryptOptions {
        suite: Some(suite),
        frame_length,
        commitment_policy: if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        },
        encryption_context,
        provider: Some(seeded(seed)),
        ..EncryptOptions::default()
    }
}

fn core_encrypt(pt: &[u8], suite: AlgorithmSuite, f: u32) -> Vec<u8> {
    let kr = keyring(b"k");
    let mut enc = pollster::block_on(Encryptor::new(&kr, &options(suite, f, b"m"))).unwrap();
    let mut out = Vec::new();
    enc.update(pt, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    out
}

/// Detached encryption; `rust` picks seal_frame, else an external seal
/// (emulated with a separate AES-GCM key built from the exposed content key).
fn detached_encrypt(pt: &[u8], suite: AlgorithmSuite, f: u32, rust: bool) -> Vec<u8> {
    let kr = keyring(b"k");
    let mut enc =
        pollster::block_on(DetachedEncryptor::new(&kr, &options(suite, f, b"m"))).unwrap();
    let external = default_provider()
        .aead_key(enc.content_key().expose())
        .unwrap();
    let mut out = enc.header().to_vec();
    // The last chunk (full or not) is the final frame, as in the core.
    let mut chunks: Vec<&[u8]> = pt.chunks(f as usize).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let n = chunks.len();
    for (i, c) in chunks.into_iter().enumerate() {
        let spec = enc.begin_frame(c.len(), i + 1 == n).unwrap();
        out.extend_from_slice(&spec.prefix);
        let mut buf = c.to_vec();
        if rust {
            enc.seal_frame(&mut buf).unwrap();
        } else {
            let tag = external
                .seal_in_place(&spec.iv, &spec.aad, &mut buf)
                .unwrap();
            buf.extend_from_slice(&tag);
            enc.end_frame(Some(&buf)).unwrap();
        }
        out.extend_from_slice(&buf);
    }
    out.extend_from_slice(&enc.finish().unwrap());
    out
}

fn dec_options() -> DecryptOptions {
    DecryptOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..DecryptOptions::default()
    }
}

/// Detached decryption fed in `chunk`-byte pieces, Rust backend.
fn detached_decrypt(ct: &[u8], chunk: usize) -> Result<Vec<u8>, Error> {
    let kr = keyring(b"other");
    let mut d = DetachedDecryptor::new(&dec_options());
    let mut pos = 0;
    loop {
        let end = (pos + chunk).min(ct.len());
        match d.push_header(&ct[pos..end])? {
            Some(n) => {
                pos += n;
                break;
            }
            None if end == ct.len() => return d.finish().map(|_| Vec::new()),
            None => pos = end,
        }
    }
    let (m, edks) = d.materials_request().unwrap();
    let m = pollster::block_on(crate::Keyring::on_decrypt(&kr, m, &edks))?;
    d.supply_materials(m)?;
    let mut out = Vec::new();
    while pos < ct.len() {
        let head = &ct[pos..(pos + 24).min(ct.len())];
        let Some(u) = d.next_unit(head)? else { break };
        let end = pos + u.total_len as usize;
        if end > ct.len() {
            break;
        }
        if u.kind == UnitKind::Footer {
            d.verify_footer(&ct[pos..end])?;
        } else {
            d.open_unit(&ct[pos..end], &mut out)?;
        }
        pos = end;
    }
    d.finish()?;
    Ok(out)
}

#[test]
fn byte_identical_to_the_core_encryptor() {
    for suite in AlgorithmSuite::ALL {
        for (len, f) in [
            (0usize, 64u32),
            (1, 64),
            (63, 64),
            (64, 64),
            (65, 64),
            (200, 64),
            (5, 1),
        ] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            let want = core_encrypt(&pt, suite, f);
            for rust in [true, false] {
                let got = detached_encrypt(&pt, suite, f, rust);
                assert_eq!(got, want, "suite {suite:?} len {len} frame {f} rust {rust}");
            }
            for chunk in [1, 7, 4096] {
                assert_eq!(detached_decrypt(&want, chunk).unwrap(), pt);
            }
        }
    }
}

#[test]
fn tampering_and_truncation_fail_with_codes() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384;
    let pt = vec![5u8; 300];
    let ct = core_encrypt(&pt, suite, 100);
    let header_len = {
        let p = crate::Header::parse(&ct, &Default::default())
            .unwrap()
            .unwrap();
        p.total_len
    };
    // Flip one bit at a time in every region; each must fail, never panic.
    for at in (0..ct.len()).step_by(7) {
        let mut bad = ct.clone();
        bad[at] ^= 1;
        let e = detached_decrypt(&bad, 50).unwrap_err();
        if at >= header_len && at < ct.len() - 110 {
            assert!(
                matches!(e, Error::BodyAuthFailed | Error::Malformed(_)),
                "{at}: {e:?}"
            );
        }
    }
    for cut in [
        1,
        10,
        header_len - 1,
        header_len,
        header_len + 30,
        ct.len() - 1,
    ] {
        let e = detached_decrypt(&ct[..cut], 64).unwrap_err();
        assert_eq!(e.code(), "TRUNCATED_MESSAGE", "cut {cut}");
    }
    let mut long = ct.clone();
    long.push(0);
    assert_eq!(
        detached_decrypt(&long, 64).unwrap_err(),
        Error::TrailingData
    );
}

#[test]
fn a_failed_frame_releases_nothing_and_poisons() {
    let ct = core_encrypt(&[9u8; 250], AlgorithmSuite::Aes256GcmHkdfSha512Commit, 100);
    let kr = keyring(b"x");
    let mut d = DetachedDecryptor::new(&dec_options());
    let n = d.push_header(&ct).unwrap().unwrap();
    let (m, edks) = d.materials_request().unwrap();
    d.supply_materials(pollster::block_on(crate::Keyring::on_decrypt(&kr, m, &edks)).unwrap())
        .unwrap();
    let u = d.next_unit(&ct[n..]).unwrap().unwrap();
    let mut frame = ct[n..n + u.total_len as usize].to_vec();
    frame[40] ^= 0x80;
    let mut out = vec![1, 2, 3];
    assert_eq!(d.open_unit(&frame, &mut out), Err(Error::BodyAuthFailed));
    assert_eq!(out, [1, 2, 3]);
    assert!(d.content_key().is_none());
    assert!(d.next_unit(&ct[n..]).is_err());
    assert!(d.finish().is_err());
}

#[test]
fn a_bad_header_never_exposes_the_content_key() {
    let ct = core_encrypt(b"hello", AlgorithmSuite::Aes256GcmHkdfSha512Commit, 100);
    let p = crate::Header::parse(&ct, &Default::default())
        .unwrap()
        .unwrap();
    // The last header byte is in the header tag; an earlier one in the commitment.
    for (at, code) in [
        (p.total_len - 1, "HEADER_AUTH_FAILED"),
        (p.body_len - 1, "COMMITMENT_MISMATCH"),
    ] {
        let mut bad = ct.clone();
        bad[at] ^= 1;
        let kr = keyring(b"x");
        let mut d = DetachedDecryptor::new(&dec_options());
        d.push_header(&bad).unwrap().unwrap();
        let (m, edks) = d.materials_request().unwrap();
        let m = pollster::block_on(crate::Keyring::on_decrypt(&kr, m, &edks)).unwrap();
        let e = d.supply_materials(m).unwrap_err();
        assert_eq!(e.code(), code);
        assert!(d.content_key().is_none());
        assert!(d.next_unit(&bad[p.total_len..]).is_err());
    }
}

#[test]
fn frame_misuse_is_rejected() {
    let kr = keyring(b"k");
    let o = options(AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384, 10, b"m");
    let mut enc = pollster::block_on(DetachedEncryptor::new(&kr, &o)).unwrap();
    assert!(enc.finish().is_err());
    assert!(enc.begin_frame(9, false).is_err());
    let mut enc = pollster::block_on(DetachedEncryptor::new(&kr, &o)).unwrap();
    enc.begin_frame(10, false).unwrap();
    // A signed suite must see the sealed bytes.
    assert!(enc.end_frame(None).is_err());
    assert!(enc.begin_frame(10, false).is_err());
}
