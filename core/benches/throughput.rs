//! Native throughput of the streaming [`Encryptor`] and [`Decryptor`]
//! against one one-shot RustCrypto AES-256-GCM call over the whole buffer.
//!
//! A plain timing harness (`harness = false`, std::time): each round times
//! every case once, interleaved, so that the baseline and the streaming
//! machines see the same machine load; the tables give the best (fastest)
//! and the median of the rounds, and each ratio is taken against the
//! baseline of the same run.
//!
//! The streaming machines are fed 64 KiB chunks and append to one reused
//! output `Vec`, cleared after each chunk, as the CLI does. The one-shot
//! helpers only set up the ciphertext the decryptor reads.
//!
//! Environment (all optional):
//! * `KMSE_BENCH_SIZES_MIB`: comma-separated sizes in MiB (default `64,1024`);
//! * `KMSE_BENCH_ROUNDS`: rounds per size (default 9 below 256 MiB, 5 from 256 MiB);
//! * `KMSE_BENCH_ONLY`: a substring; run only the cases whose name has it
//!   (the baseline always runs).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_envelope_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptOptions, Decryptor, EncryptOptions, Encryptor,
    RawAesKeyring, SecretBytes, Status,
};

/// Input chunk size, as in the CLI.
const CHUNK: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;
const DEFAULT_FRAME: usize = kms_envelope_core::DEFAULT_FRAME_LENGTH as usize;

/// One streaming configuration.
struct Case {
    name: String,
    suite: AlgorithmSuite,
    frame: u32,
    /// The message the decryptor reads (set up with the one-shot helper).
    message: Vec<u8>,
    enc: Vec<Sample>,
    dec: Vec<Sample>,
}

/// One timed run: wall-clock time, and the time this thread was on a CPU
/// (from `/proc/thread-self/schedstat`, if readable; it is updated at
/// scheduler ticks, so it is exact to a few milliseconds). On a shared
/// machine the on-CPU time is the steadier of the two.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Option<Duration>,
}

struct Timer {
    wall: Instant,
    cpu: Option<u64>,
}

fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

impl Timer {
    fn start() -> Self {
        let cpu = on_cpu_ns();
        Self {
            wall: Instant::now(),
            cpu,
        }
    }

    fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = match (self.cpu, on_cpu_ns()) {
            (Some(a), Some(b)) if b > a => Some(Duration::from_nanos(b - a)),
            _ => None,
        };
        Sample { wall, cpu }
    }
}

/// Deterministic, fast filler (splitmix64); AES does not care what it encrypts.
fn fill(buf: &mut [u8]) {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for c in buf.chunks_mut(8) {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        c.copy_from_slice(&z.to_le_bytes()[..c.len()]);
    }
}

fn keyring() -> RawAesKeyring {
    let mut k = vec![0u8; 32];
    fill(&mut k);
    RawAesKeyring::new("bench", "key", SecretBytes::new(k)).expect("keyring")
}

fn enc_options(suite: AlgorithmSuite, frame: u32) -> EncryptOptions {
    let mut o = EncryptOptions::default();
    o.suite = Some(suite);
    o.frame_length = frame;
    o.commitment_policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
    o
}

/// Time the streaming encryptor over `pt`; returns the time and the
/// number of message bytes it produced.
fn stream_encrypt(kr: &RawAesKeyring, opts: &EncryptOptions, pt: &[u8]) -> (Sample, u64) {
    let t = Timer::start();
    let mut enc = pollster::block_on(Encryptor::new(kr, opts)).expect("encryptor");
    let mut out = Vec::with_capacity(CHUNK + opts.frame_length as usize + 256);
    let mut total = 0u64;
    for chunk in pt.chunks(CHUNK) {
        enc.update(chunk, &mut out).expect("update");
        total += black_box(&out).len() as u64;
        out.clear();
    }
    enc.finish(&mut out).expect("finish");
    total += black_box(&out).len() as u64;
    let d = t.stop();
    let expect = enc.ciphertext_length(pt.len() as u64).expect("length");
    assert_eq!(total, expect, "the encryptor wrote an unexpected length");
    (d, total)
}

/// Time the streaming decryptor over `msg`. With `pt`, compare the
/// plaintext it releases against it (a set-up run: the time then means
/// nothing).
fn stream_decrypt(kr: &RawAesKeyring, msg: &[u8], pt: Option<&[u8]>) -> Sample {
    let mut opts = DecryptOptions::default();
    opts.commitment_policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
    let t = Timer::start();
    let mut dec = Decryptor::new(opts);
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut released = 0usize;
    let mut status = Status::NeedInput;
    for chunk in msg.chunks(CHUNK) {
        status = pollster::block_on(dec.update_with(kr, chunk, &mut out)).expect("update");
        if let Some(pt) = pt {
            assert_eq!(
                &pt[released..released + out.len()],
                &out[..],
                "plaintext differs"
            );
        }
        released += black_box(&out).len();
        out.clear();
    }
    dec.finish().expect("finish");
    let d = t.stop();
    assert_eq!(status, Status::Done);
    if let Some(pt) = pt {
        assert_eq!(released, pt.len(), "the decryptor released a wrong length");
    }
    d
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Best (shortest) and median wall time, and best on-CPU time.
struct Stats {
    best: Duration,
    median: Duration,
    cpu: Option<Duration>,
}

fn stats(v: &[Sample]) -> Stats {
    let mut w: Vec<Duration> = v.iter().map(|s| s.wall).collect();
    w.sort();
    let cpu = v.iter().map(|s| s.cpu).collect::<Option<Vec<_>>>();
    Stats {
        best: w[0],
        median: w[w.len() / 2],
        cpu: cpu.and_then(|c| c.into_iter().min()),
    }
}

/// "MB/s best (median) | on-CPU best".
fn speed(size: usize, s: &Stats) -> String {
    let cpu = s
        .cpu
        .map_or_else(|| "n/a".into(), |c| format!("{:.0}", mbps(size, c)));
    format!(
        "{:.0} ({:.0}) | {cpu}",
        mbps(size, s.best),
        mbps(size, s.median)
    )
}

/// Streaming over baseline: "best (median) | on-CPU best".
fn ratio(base: &Stats, s: &Stats) -> String {
    let r = |b: Duration, x: Duration| b.as_secs_f64() / x.as_secs_f64();
    let cpu = match (base.cpu, s.cpu) {
        (Some(b), Some(x)) => format!("{:.2}", r(b, x)),
        _ => "n/a".into(),
    };
    format!(
        "{:.2} ({:.2}) | {cpu}",
        r(base.best, s.best),
        r(base.median, s.median)
    )
}

fn env_usize_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().expect("a number"))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn run_size(size: usize, rounds: usize, only: Option<&str>) {
    let kr = keyring();
    let mut pt = vec![0u8; size];
    fill(&mut pt);

    let default_frame = kms_envelope_core::DEFAULT_FRAME_LENGTH;
    let mut cases: Vec<Case> = [
        (AlgorithmSuite::Aes256GcmHkdfSha512Commit, 4 * 1024),
        (AlgorithmSuite::Aes256GcmHkdfSha512Commit, default_frame),
        (AlgorithmSuite::Aes256GcmHkdfSha512Commit, MIB as u32),
        (
            AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384,
            default_frame,
        ),
    ]
    .into_iter()
    .map(|(suite, frame)| Case {
        name: format!("0x{:04x} frame {:>4} KiB", suite.id(), frame / 1024),
        suite,
        frame,
        message: Vec::new(),
        enc: Vec::new(),
        dec: Vec::new(),
    })
    .filter(|c| match only {
        Some(o) => c.name.contains(o),
        None => true,
    })
    .collect();

    // Set-up: the messages to decrypt, and an untimed check that the
    // streaming decryptor gives the plaintext back.
    for c in &mut cases {
        let opts = enc_options(c.suite, c.frame);
        c.message = pollster::block_on(kms_envelope_core::encrypt(&kr, &pt, &opts)).expect("enc");
        stream_decrypt(&kr, &c.message, Some(&pt));
    }

    let cipher = Aes256Gcm::new_from_slice(&[0x42; 32]).expect("key");
    let nonce = Nonce::from([7u8; 12]);
    let aad = [0u8; 64];
    let (mut base_enc, mut base_dec) = (Vec::new(), Vec::new());
    let (mut ref_enc, mut ref_dec) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Baseline: in place over the whole buffer, then back again (the
        // decryption checks the tag the encryption just made, so `pt`
        // holds the plaintext again afterwards).
        let t = Timer::start();
        let tag = cipher
            .encrypt_in_place_detached(&nonce, &aad, black_box(&mut pt[..]))
            .expect("seal");
        base_enc.push(t.stop());
        let t = Timer::start();
        cipher
            .decrypt_in_place_detached(&nonce, &aad, black_box(&mut pt[..]), &tag)
            .expect("open");
        base_dec.push(t.stop());

        // Reference: the same calls over 64 KiB slices, the cipher's own
        // speed at the default frame size (cache-resident, no copies, no
        // framing).
        let t = Timer::start();
        let tags: Vec<_> = pt
            .chunks_mut(DEFAULT_FRAME)
            .map(|s| cipher.encrypt_in_place_detached(&nonce, &aad, black_box(s)))
            .collect::<Result<_, _>>()
            .expect("seal");
        ref_enc.push(t.stop());
        let t = Timer::start();
        for (s, tag) in pt.chunks_mut(DEFAULT_FRAME).zip(&tags) {
            cipher
                .decrypt_in_place_detached(&nonce, &aad, black_box(s), tag)
                .expect("open");
        }
        ref_dec.push(t.stop());

        for c in &mut cases {
            let (d, _) = stream_encrypt(&kr, &enc_options(c.suite, c.frame), &pt);
            c.enc.push(d);
            c.dec.push(stream_decrypt(&kr, &c.message, None));
        }
    }

    let (be, bd) = (stats(&base_enc), stats(&base_dec));
    let (re, rd) = (stats(&ref_enc), stats(&ref_dec));
    println!();
    println!(
        "### {} MiB, {rounds} rounds: best (median) of wall-clock time | best of on-CPU time; \
         ratio = streaming speed / one-shot speed",
        size / MIB
    );
    println!();
    println!(
        "| case | enc MB/s | enc MB/s on-CPU | enc ratio | enc ratio on-CPU \
         | dec MB/s | dec MB/s on-CPU | dec ratio | dec ratio on-CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| one-shot Aes256Gcm in place | {} | 1 | 1 | {} | 1 | 1 |",
        speed(size, &be),
        speed(size, &bd)
    );
    println!(
        "| reference: one-shot Aes256Gcm per 64 KiB slice | {} | {} | {} | {} |",
        speed(size, &re),
        ratio(&be, &re),
        speed(size, &rd),
        ratio(&bd, &rd),
    );
    for c in &cases {
        let (ce, cd) = (stats(&c.enc), stats(&c.dec));
        println!(
            "| streaming {} | {} | {} | {} | {} |",
            c.name,
            speed(size, &ce),
            ratio(&be, &ce),
            speed(size, &cd),
            ratio(&bd, &cd),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a test run (`cargo test --benches`)
    // does not, and then a tiny size keeps it quick.
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = if bench {
        env_usize_list("KMSE_BENCH_SIZES_MIB", &[64, 1024])
    } else {
        vec![1]
    };
    let only = std::env::var("KMSE_BENCH_ONLY").ok();
    println!(
        "kms-envelope-core throughput: {CHUNK}-byte input chunks, MB = 10^6 bytes, plaintext bytes per second"
    );
    let t = Instant::now();
    for mib in sizes {
        let rounds = match std::env::var("KMSE_BENCH_ROUNDS") {
            Ok(r) => r.parse().expect("a number"),
            Err(_) if !bench => 1,
            Err(_) if mib >= 256 => 5,
            Err(_) => 9,
        };
        run_size(mib * MIB, rounds.max(1), only.as_deref());
    }
    println!();
    println!("(bench time {:.0} s)", t.elapsed().as_secs_f64());
}
