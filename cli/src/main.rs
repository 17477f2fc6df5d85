//! `kms-envelope`: encrypt and decrypt files or streams in the AWS Encryption
//! SDK message format, in constant memory.
//!
//! Exit status: 0 on success, 1 when encryption or decryption fails (the
//! message is not authentic, no key fits, ...), 2 on a usage error. Errors go
//! to stderr as `kms-envelope: error[CODE]: message`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod io;
mod kms;
mod secrets;

use std::process::ExitCode;

use clap::Parser;
use kms_envelope_core::{DecryptOptions, Decryptor, EncryptOptions, Encryptor, Error};

use args::{Cli, Command, CommonKeys};

/// A failure with its exit status.
pub(crate) struct Failure {
    code: &'static str,
    message: String,
    status: u8,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: "USAGE",
            message: message.into(),
            status: 2,
        }
    }

    pub(crate) fn coded(code: &'static str, message: String, status: u8) -> Self {
        Self {
            code,
            message,
            status,
        }
    }

    pub(crate) fn io(what: &str, e: std::io::Error) -> Self {
        Self {
            code: "IO_ERROR",
            message: format!("{what}: {e}"),
            status: 1,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = if e.is_decrypt_failure() { 1 } else { 2 };
        Self {
            code: e.code(),
            message: e.to_string(),
            status,
        }
    }
}

const CHUNK: usize = 64 * 1024;

fn encrypt(keys: &CommonKeys, opts: &EncryptOptions, io: &mut io::Streams) -> Result<(), Failure> {
    let keyring = keys.keyring()?;
    let mut enc = pollster::block_on(Encryptor::new(keyring.as_ref(), opts))?;
    let mut inbuf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + opts.frame_length as usize + 256);
    loop {
        let n = io.read(&mut inbuf)?;
        if n == 0 {
            break;
        }
        enc.update(&inbuf[..n], &mut out)?;
        io.write(&out)?;
        out.clear();
    }
    enc.finish(&mut out)?;
    io.write(&out)?;
    Ok(())
}

fn decrypt(keys: &CommonKeys, opts: DecryptOptions, io: &mut io::Streams) -> Result<(), Failure> {
    let keyring = keys.keyring()?;
    let mut dec = Decryptor::new(opts);
    let mut inbuf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(2 * CHUNK);
    loop {
        let n = io.read(&mut inbuf)?;
        if n == 0 {
            break;
        }
        pollster::block_on(dec.update_with(keyring.as_ref(), &inbuf[..n], &mut out))?;
        io.write(&out)?;
        out.clear();
    }
    dec.finish()?;
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Encrypt(a) => {
            let opts = a.options()?;
            let mut io = io::Streams::open(&a.io.input, &a.io.output)?;
            encrypt(&a.keys, &opts, &mut io)?;
            io.commit()
        }
        Command::Decrypt(a) => {
            let opts = a.options()?;
            let mut io = io::Streams::open(&a.io.input, &a.io.output)?;
            decrypt(&a.keys, opts, &mut io)?;
            io.commit()
        }
        Command::PutSecret(a) => secrets::put(&a),
        Command::GetSecret(a) => secrets::get(&a),
        Command::GetSecretsByPath(a) => secrets::get_by_path(&a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let status = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(status);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("kms-envelope: error[{}]: {}", f.code, f.message);
            ExitCode::from(f.status)
        }
    }
}
