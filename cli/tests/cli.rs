//! Integration tests of the `kms-envelope` binary: exit statuses (0 ok, 1 the
//! message or keys failed, 2 usage), files and stdin/stdout, no output file
//! left after a failed decryption, required encryption-context keys, several
//! wrapping keys, and raw RSA keys (PEM files made with `openssl`).
#![forbid(unsafe_code)]

mod support;

use support::*;

#[test]
fn file_round_trip_and_wrong_context_leaves_nothing() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let plaintext = random(100_000);
    let msg = encrypt(
        &s,
        &plaintext,
        &[
            "--raw-aes-key",
            &key,
            "-c",
            "purpose=test",
            "-c",
            "ünï=cødé",
        ],
    );
    let (o, out) = decrypt(
        &s,
        &msg,
        &[
            "--raw-aes-key",
            &key,
            "-c",
            "purpose=test",
            "-c",
            "ünï=cødé",
        ],
    );
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("output"), plaintext);
    std::fs::remove_file(&out).expect("rm");

    // Without the context on decrypt: still fine (the context is in the header).
    let (o, out) = decrypt(&s, &msg, &["--raw-aes-key", &key]);
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("output"), plaintext);
    std::fs::remove_file(&out).expect("rm");

    // A wrong value: exit 1, the code, and no output file or temporary file.
    let (o, _) = decrypt(&s, &msg, &["--raw-aes-key", &key, "-c", "purpose=other"]);
    assert_fails(&o, 1, "ENCRYPTION_CONTEXT_MISMATCH");
    assert_empty_dir(&s.out_dir());
}

#[test]
fn failed_decrypt_keeps_an_existing_output_file() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let msg = encrypt(&s, b"secret", &["--raw-aes-key", &key]);
    let other = s.aes_key("other", 32);
    let dst = s.out_dir().join("plain");
    std::fs::write(&dst, b"previous contents").expect("write");
    let o = run(&[
        "decrypt",
        "-i",
        p(&msg),
        "-o",
        p(&dst),
        "--raw-aes-key",
        &other,
    ]);
    assert_fails(&o, 1, "NO_DECRYPTABLE_KEY");
    assert_eq!(std::fs::read(&dst).expect("read"), b"previous contents");
    assert_eq!(std::fs::read_dir(s.out_dir()).expect("dir").count(), 1);
}

#[test]
fn flipped_bytes_exit_1_without_output() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let plaintext = random(3000);
    for suite in ["0x0478", "0x0578"] {
        let msg = encrypt(
            &s,
            &plaintext,
            &[
                "--raw-aes-key",
                &key,
                "--suite",
                suite,
                "--frame-length",
                "512",
            ],
        );
        let good = std::fs::read(&msg).expect("read");
        // A byte in the header, one in the middle of the body, and the last byte.
        for at in [5, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x04;
            let bad_path = s.write("bad", &bad);
            let (o, _) = decrypt(&s, &bad_path, &["--raw-aes-key", &key]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{suite} byte {at}: {}",
                stderr(&o)
            );
            assert!(stderr(&o).contains("error["), "{}", stderr(&o));
            assert_empty_dir(&s.out_dir());
        }
    }
}

#[test]
fn stdin_and_stdout_with_dash() {
    let s = Scratch::new();
    let key = s.aes_key("k", 24);
    let plaintext = random(300_000);
    let enc = run_stdin(
        &[
            "encrypt",
            "-i",
            "-",
            "-o",
            "-",
            "--raw-aes-key",
            &key,
            "-c",
            "a=b",
        ],
        &plaintext,
    );
    assert_ok(&enc);
    assert!(enc.stdout.len() > plaintext.len());
    let dec = run_stdin(
        &[
            "decrypt",
            "-i",
            "-",
            "-o",
            "-",
            "--raw-aes-key",
            &key,
            "-c",
            "a=b",
        ],
        &enc.stdout,
    );
    assert_ok(&dec);
    assert_eq!(dec.stdout, plaintext);

    // Mixed: a file in, stdout out; stdin in, a file out.
    let msg = s.write("msg", &enc.stdout);
    let o = run(&["decrypt", "-i", p(&msg), "-o", "-", "--raw-aes-key", &key]);
    assert_ok(&o);
    assert_eq!(o.stdout, plaintext);
    let dst = s.path("from-stdin");
    let o = run_stdin(
        &["decrypt", "-i", "-", "-o", p(&dst), "--raw-aes-key", &key],
        &enc.stdout,
    );
    assert_ok(&o);
    assert_eq!(std::fs::read(&dst).expect("read"), plaintext);
}

#[test]
fn failed_decrypt_to_stdout_releases_only_authenticated_plaintext() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let plaintext = random(10 * 1024);
    for suite in ["0x0478", "0x0578"] {
        let msg = encrypt(
            &s,
            &plaintext,
            &[
                "--raw-aes-key",
                &key,
                "--suite",
                suite,
                "--frame-length",
                "1024",
            ],
        );
        let mut bad = std::fs::read(&msg).expect("read");
        let at = bad.len() * 3 / 4; // in a frame past the middle
        bad[at] ^= 0x01;
        let o = run_stdin(
            &["decrypt", "-i", "-", "-o", "-", "--raw-aes-key", &key],
            &bad,
        );
        assert_fails(&o, 1, "BODY_AUTH_FAILED");
        assert!(
            o.stdout.len() < plaintext.len(),
            "{suite}: all of it was released"
        );
        assert_eq!(
            o.stdout,
            plaintext[..o.stdout.len()],
            "{suite}: wrong bytes released"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let src = s.write("plain", b"hello");
    let dst = s.path("msg");
    let base = ["encrypt", "-i", p(&src), "-o", p(&dst)];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        run(&v)
    };
    let missing = format!("test:k:{}", s.path("no-such-key").display());
    let bad_len = format!("test:k:{}", s.write("short.key", &[1u8; 17]).display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--raw-aes-key", &key, "-c", "no-equals-sign"], "-c"),
        (
            vec!["--raw-aes-key", &key, "-c", "a=1", "-c", "a=2"],
            "twice",
        ),
        (vec!["--raw-aes-key", &missing], "cannot read key file"),
        (
            vec!["--raw-aes-key", "just-one-part"],
            "NAMESPACE:NAME:KEYFILE",
        ),
        (vec!["--raw-aes-key", &key, "--suite", "0x9999"], "0x9999"),
        (vec!["--raw-aes-key", &key, "--suite", "zz"], "--suite"),
        (
            vec!["--raw-aes-key", &key, "--frame-length", "0"],
            "frame-length",
        ),
        (
            vec!["--raw-aes-key", &key, "--commitment-policy", "sometimes"],
            "commitment policy",
        ),
        (vec![], "at least one"),
    ];
    for (extra, needle) in cases {
        let o = with(&extra);
        assert_fails(&o, 2, "USAGE");
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
        assert!(!dst.exists(), "{extra:?} wrote an output");
    }
    // A key of the wrong length is a usage error too, named for the key.
    let o = with(&["--raw-aes-key", &bad_len]);
    assert_fails(&o, 2, "INVALID_KEY");
    // Arguments clap refuses: exit 2 with clap's message.
    for args in [
        vec!["encrypt"],
        vec!["frobnicate"],
        vec!["encrypt", "-i", p(&src), "-o", p(&dst), "--no-such-flag"],
        vec![
            "encrypt",
            "-i",
            p(&src),
            "-o",
            p(&dst),
            "--frame-length",
            "-5",
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
    assert!(!dst.exists());
    let o = run(&["--help"]);
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("encrypt"));
    // A missing input file is an I/O failure, not a usage error.
    let o = run(&[
        "encrypt",
        "-i",
        p(&s.path("absent")),
        "-o",
        p(&dst),
        "--raw-aes-key",
        &key,
    ]);
    assert_fails(&o, 1, "IO_ERROR");
    assert!(!dst.exists());
}

#[test]
fn required_context_key_round_trip() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let plaintext = random(5000);
    let hidden = "value-kept-out-of-the-header";
    let msg = encrypt(
        &s,
        &plaintext,
        &[
            "--raw-aes-key",
            &key,
            "-c",
            "stored=visible-value",
            "-c",
            &format!("secret={hidden}"),
            "--required-context-key",
            "secret",
        ],
    );
    let bytes = std::fs::read(&msg).expect("read");
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("visible-value"), "the stored pair is in the header");
    assert!(
        !has(hidden) && !has("secret"),
        "the required pair must not be stored"
    );

    let secret = format!("secret={hidden}");
    let (o, out) = decrypt(&s, &msg, &["--raw-aes-key", &key, "-c", &secret]);
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("read"), plaintext);
    std::fs::remove_file(&out).expect("rm");

    // Without the pair, or with another value: refused, nothing written.
    for args in [
        vec!["--raw-aes-key", key.as_str()],
        vec!["--raw-aes-key", key.as_str(), "-c", "secret=guess"],
    ] {
        let (o, _) = decrypt(&s, &msg, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error["));
        assert_empty_dir(&s.out_dir());
    }
    // A required key that is not in the context: refused before anything is
    // written (the core reports it as an encryption-context error, exit 1).
    let src = s.write("p2", b"x");
    let o = run(&[
        "encrypt",
        "-i",
        p(&src),
        "-o",
        p(&s.path("m2")),
        "--raw-aes-key",
        &key,
        "--required-context-key",
        "absent",
    ]);
    assert_fails(&o, 1, "ENCRYPTION_CONTEXT_MISMATCH");
    assert!(!s.path("m2").exists());
}

#[test]
fn either_of_two_keys_decrypts() {
    let s = Scratch::new();
    let k1 = s.aes_key("one", 32);
    let k2 = s.aes_key("two", 16);
    let k3 = s.aes_key("three", 32);
    let plaintext = random(20_000);
    let msg = encrypt(
        &s,
        &plaintext,
        &["--raw-aes-key", &k1, "--raw-aes-key", &k2],
    );
    for key in [&k1, &k2] {
        let (o, out) = decrypt(&s, &msg, &["--raw-aes-key", key]);
        assert_ok(&o);
        assert_eq!(std::fs::read(&out).expect("read"), plaintext);
        std::fs::remove_file(&out).expect("rm");
    }
    // Both given, in either order.
    let (o, out) = decrypt(&s, &msg, &["--raw-aes-key", &k3, "--raw-aes-key", &k2]);
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("read"), plaintext);
    std::fs::remove_file(&out).expect("rm");
    // A key that was not used: no decryptable key.
    let (o, _) = decrypt(&s, &msg, &["--raw-aes-key", &k3]);
    assert_fails(&o, 1, "NO_DECRYPTABLE_KEY");
    assert_empty_dir(&s.out_dir());
    // The limit on encrypted data keys.
    let (o, _) = decrypt(
        &s,
        &msg,
        &["--raw-aes-key", &k1, "--max-encrypted-data-keys", "1"],
    );
    assert_fails(&o, 1, "LIMIT_EXCEEDED");
    assert_empty_dir(&s.out_dir());
    let (o, _) = decrypt(
        &s,
        &msg,
        &["--raw-aes-key", &k1, "--max-encrypted-data-keys", "2"],
    );
    assert_ok(&o);
}

#[test]
fn unsigned_only_and_suites() {
    let s = Scratch::new();
    let key = s.aes_key("k", 32);
    let plaintext = random(1000);
    let signed = encrypt(
        &s,
        &plaintext,
        &["--raw-aes-key", &key, "--suite", "0x0578"],
    );
    assert_eq!(
        &std::fs::read(&signed).expect("read")[..3],
        &[0x02, 0x05, 0x78]
    );
    let (o, _) = decrypt(&s, &signed, &["--raw-aes-key", &key, "--unsigned-only"]);
    assert_fails(&o, 1, "SIGNED_MESSAGE_REFUSED");
    assert_empty_dir(&s.out_dir());

    let unsigned = encrypt(&s, &plaintext, &["--raw-aes-key", &key]);
    assert_eq!(
        &std::fs::read(&unsigned).expect("read")[..3],
        &[0x02, 0x04, 0x78]
    );
    let (o, out) = decrypt(&s, &unsigned, &["--raw-aes-key", &key, "--unsigned-only"]);
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("read"), plaintext);
    std::fs::remove_file(&out).expect("rm");

    // A legacy suite: only with a policy that forbids commitment on encrypt,
    // and read back only with a policy that allows non-committing messages.
    let src = s.write("p", &plaintext);
    let legacy = s.path("legacy");
    let o = run(&[
        "encrypt",
        "-i",
        p(&src),
        "-o",
        p(&legacy),
        "--raw-aes-key",
        &key,
        "--suite",
        "0x0178",
    ]);
    assert_fails(&o, 1, "COMMITMENT_POLICY_VIOLATION");
    assert!(!legacy.exists());
    let o = run(&[
        "encrypt",
        "-i",
        p(&src),
        "-o",
        p(&legacy),
        "--raw-aes-key",
        &key,
        "--suite",
        "0x0178",
        "--commitment-policy",
        "forbid-encrypt-allow-decrypt",
    ]);
    assert_ok(&o);
    let (o, _) = decrypt(&s, &legacy, &["--raw-aes-key", &key]);
    assert_fails(&o, 1, "COMMITMENT_POLICY_VIOLATION");
    assert_empty_dir(&s.out_dir());
    let (o, out) = decrypt(
        &s,
        &legacy,
        &[
            "--raw-aes-key",
            &key,
            "--commitment-policy",
            "require-encrypt-allow-decrypt",
        ],
    );
    assert_ok(&o);
    assert_eq!(std::fs::read(&out).expect("read"), plaintext);
}

#[test]
fn raw_rsa_round_trip_every_padding() {
    let s = Scratch::new();
    let (private, public) = openssl_rsa(&s, "rsa");
    let (other_private, _) = openssl_rsa(&s, "other");
    let plaintext = random(40_000);
    for padding in [
        "pkcs1",
        "oaep-sha1",
        "oaep-sha256",
        "oaep-sha384",
        "oaep-sha512",
    ] {
        let enc_key = format!("test:rsa:{}:{padding}", public.display());
        let dec_key = format!("test:rsa:{}:{padding}", private.display());
        // Encrypt with the public key alone, decrypt with the private key.
        let msg = encrypt(
            &s,
            &plaintext,
            &["--raw-rsa-key", &enc_key, "-c", "alg=rsa"],
        );
        let (o, out) = decrypt(&s, &msg, &["--raw-rsa-key", &dec_key]);
        assert_ok(&o);
        assert_eq!(std::fs::read(&out).expect("read"), plaintext, "{padding}");
        std::fs::remove_file(&out).expect("rm");
        // The same name with another key pair cannot unwrap it.
        let wrong = format!("test:rsa:{}:{padding}", other_private.display());
        let (o, _) = decrypt(&s, &msg, &["--raw-rsa-key", &wrong]);
        assert_eq!(o.status.code(), Some(1), "{padding}: {}", stderr(&o));
        assert!(stderr(&o).contains("error["));
        assert_empty_dir(&s.out_dir());
    }
    // An RSA key beside an AES key: either decrypts.
    let aes = s.aes_key("aes", 32);
    let enc_key = format!("test:rsa:{}:oaep-sha256", public.display());
    let dec_key = format!("test:rsa:{}:oaep-sha256", private.display());
    let msg = encrypt(
        &s,
        &plaintext,
        &["--raw-aes-key", &aes, "--raw-rsa-key", &enc_key],
    );
    for key in [
        ["--raw-aes-key", aes.as_str()],
        ["--raw-rsa-key", dec_key.as_str()],
    ] {
        let (o, out) = decrypt(&s, &msg, &key);
        assert_ok(&o);
        assert_eq!(std::fs::read(&out).expect("read"), plaintext);
        std::fs::remove_file(&out).expect("rm");
    }
    // A bad padding name or a file that is not PEM: usage errors.
    let bad = format!("test:rsa:{}:oaep-md5", private.display());
    let o = run(&[
        "encrypt",
        "-i",
        p(&s.path("plain")),
        "-o",
        p(&s.path("m")),
        "--raw-rsa-key",
        &bad,
    ]);
    assert_fails(&o, 2, "USAGE");
    let not_pem = format!(
        "test:rsa:{}:pkcs1",
        s.write("junk.pem", b"not a key").display()
    );
    let o = run(&[
        "encrypt",
        "-i",
        p(&s.path("plain")),
        "-o",
        p(&s.path("m")),
        "--raw-rsa-key",
        &not_pem,
    ]);
    assert_fails(&o, 2, "INVALID_KEY");
    assert!(!s.path("m").exists());
}
