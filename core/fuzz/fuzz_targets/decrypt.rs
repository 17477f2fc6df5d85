//! Streaming decryption of arbitrary bytes, fed in chunks whose size comes
//! from the input, with a fixed raw AES keyring. Never panics; whatever the
//! chunking, the result and the released bytes equal those of decrypting the
//! message in one piece; an error is a decryption failure, never a usage
//! error.
#![no_main]
#![forbid(unsafe_code)]

use kms_envelope_core::{DecryptOptions, Decryptor, Error, Keyring};
use kms_envelope_core_fuzz::{decode_decrypt_input, keyring};
use libfuzzer_sys::fuzz_target;

fn run(
    kr: &dyn Keyring,
    msg: &[u8],
    o: &DecryptOptions,
    chunk: usize,
) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(o.clone());
    let mut out = Vec::new();
    for c in msg.chunks(chunk) {
        if let Err(e) = pollster::block_on(dec.update_with(kr, c, &mut out)) {
            // A failed decryptor stays failed.
            assert!(dec.update(b"x", &mut out).is_err() && dec.finish().is_err());
            return (out, Err(e));
        }
    }
    let r = dec.finish();
    if r.is_ok() {
        assert!(dec.is_done() && dec.header().is_some());
    }
    (out, r)
}

fuzz_target!(|data: &[u8]| {
    let Some((chunk, options, msg)) = decode_decrypt_input(data) else {
        return;
    };
    let kr = keyring();
    let (out, r) = run(&kr, msg, &options, chunk);
    if let Err(e) = &r {
        assert!(e.is_decrypt_failure(), "{e:?}");
    }
    let (whole_out, whole_r) = run(&kr, msg, &options, msg.len().max(1));
    assert_eq!(
        r.as_ref().map_err(Error::code),
        whole_r.as_ref().map_err(Error::code)
    );
    assert_eq!(out, whole_out);
    let one_shot = pollster::block_on(kms_envelope_core::decrypt(&kr, msg, &options));
    match (&r, one_shot) {
        (Ok(()), Ok(d)) => assert_eq!(d.plaintext, out),
        (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
        (a, b) => panic!("streaming {a:?} but one-shot {:?}", b.map(|_| ())),
    }
});
