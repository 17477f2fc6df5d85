//! Helpers of the CLI integration tests: a scratch directory, running the
//! binary (with or without stdin), and assertions on exit status and stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_kms-envelope");

/// A scratch directory with a plaintext, a key file and helpers to run the CLI.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write");
        p
    }

    /// A fresh random AES key file; returns the --raw-aes-key value.
    pub fn aes_key(&self, name: &str, len: usize) -> String {
        let p = self.write(&format!("{name}.key"), &random(len));
        format!("test:{name}:{}", p.display())
    }

    /// The `out` folder, where decryptions write (created on first use).
    pub fn out_dir(&self) -> PathBuf {
        let d = self.path("out");
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }
}

pub fn random(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut v))
        .expect("random bytes");
    v
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run kms-envelope")
}

pub fn run_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kms-envelope");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The CLI may stop reading early (on an error); a broken pipe is fine.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer thread");
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

/// Asserts the exit status and the `error[CODE]` on stderr.
#[track_caller]
pub fn assert_fails(o: &Output, status: i32, code: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(status), "stderr: {err}");
    assert!(
        err.contains(&format!("kms-envelope: error[{code}]: ")),
        "expected error[{code}], got: {err}"
    );
}

/// Asserts that `dir` is empty: no output and no leftover temporary file.
#[track_caller]
pub fn assert_empty_dir(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Encrypts `plaintext` with the given extra arguments; returns the message path.
pub fn encrypt(s: &Scratch, plaintext: &[u8], args: &[&str]) -> PathBuf {
    let src = s.write("plain", plaintext);
    let dst = s.path("msg");
    let mut all = vec!["encrypt", "-i", p(&src), "-o", p(&dst)];
    all.extend_from_slice(args);
    assert_ok(&run(&all));
    dst
}

/// Decrypts `msg` into `out/plain`; returns the output and the path.
pub fn decrypt(s: &Scratch, msg: &Path, args: &[&str]) -> (Output, PathBuf) {
    let dst = s.out_dir().join("plain");
    let mut all = vec!["decrypt", "-i", p(msg), "-o", p(&dst)];
    all.extend_from_slice(args);
    (run(&all), dst)
}

/// Makes an RSA key pair with openssl: (private PEM path, public PEM path).
pub fn openssl_rsa(s: &Scratch, name: &str) -> (PathBuf, PathBuf) {
    let private = s.path(&format!("{name}.pem"));
    let public = s.path(&format!("{name}.pub.pem"));
    let gen = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p(&private),
        ])
        .output()
        .expect("openssl is needed for the RSA tests (Debian package openssl)");
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let pubout = Command::new("openssl")
        .args(["pkey", "-in", p(&private), "-pubout", "-out", p(&public)])
        .output()
        .expect("openssl");
    assert!(
        pubout.status.success(),
        "{}",
        String::from_utf8_lossy(&pubout.stderr)
    );
    (private, public)
}
