//! Writes seed corpora for the fuzz targets: a few valid messages (several
//! suites, sizes and frame lengths) under the fuzz targets' fixed keyring.
//! Usage: `make_corpus <corpus dir>` (creates `decrypt/` and `header_parse/`).
#![forbid(unsafe_code)]

use kms_envelope_core::{AlgorithmSuite, CommitmentPolicy, EncryptOptions, Header, Limits};
use kms_envelope_core_fuzz::{keyring, HEADER_DEFAULTS};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: make_corpus <dir>"));
    let (dec_dir, hdr_dir) = (dir.join("decrypt"), dir.join("header_parse"));
    std::fs::create_dir_all(&dec_dir).expect("mkdir");
    std::fs::create_dir_all(&hdr_dir).expect("mkdir");
    let kr = keyring();
    let cases = [
        (
            AlgorithmSuite::Aes256GcmHkdfSha512Commit,
            100usize,
            32u32,
            0u8,
            6u8,
        ),
        (AlgorithmSuite::Aes256GcmHkdfSha512Commit, 0, 16, 255, 1),
        (
            AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384,
            70,
            32,
            4,
            0,
        ),
        (AlgorithmSuite::Aes256GcmHkdfSha256, 64, 32, 9, 0),
        (AlgorithmSuite::Aes128GcmNoKdf, 300, 100, 50, 8),
        (AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384, 5, 4096, 2, 16),
    ];
    for (i, (suite, len, frame, chunk, flags)) in cases.into_iter().enumerate() {
        let mut o = EncryptOptions::default();
        o.suite = Some(suite);
        o.frame_length = frame;
        o.commitment_policy = if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        o.encryption_context.insert("purpose", "fuzz");
        if i % 2 == 0 {
            o.encryption_context.insert("tenant", "a");
        }
        let pt: Vec<u8> = (0..len).map(|j| j as u8).collect();
        let msg = pollster::block_on(kms_envelope_core::encrypt(&kr, &pt, &o)).expect("encrypt");
        let mut input = vec![chunk, flags];
        input.extend_from_slice(&msg);
        std::fs::write(dec_dir.join(format!("seed-{i}-{:04x}", suite.id())), input).expect("write");
        let p = Header::parse(&msg, &Limits::default())
            .expect("parse")
            .expect("complete");
        let mut input = HEADER_DEFAULTS.to_vec();
        input.extend_from_slice(&msg[..p.total_len]);
        std::fs::write(hdr_dir.join(format!("seed-{i}-{:04x}", suite.id())), input).expect("write");
    }
    println!("wrote {} seeds each into {}", cases.len(), dir.display());
}
