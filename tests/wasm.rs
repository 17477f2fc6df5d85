//! wasm-bindgen-test tests of the boundary in `src/`, run in Node and in
//! headless Chromium (page and dedicated Worker) by `scripts/wasm-test.sh`
//! through `wasm-bindgen-test-runner`. They drive the exported handles the
//! way `js/` does: keyrings, the encryptor's frame protocol, the decryptor's
//! unit protocol, errors as JS values with a `code`, and WebCrypto as the
//! frame AEAD next to the Rust one.
#![cfg(target_arch = "wasm32")]
#![forbid(unsafe_code)]

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use kms_envelope::{
    encryptor_new, has_signature_module, set_signature_module, WasmDecryptor, WasmEncryptor,
    WasmKeyring, WasmMaterials,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const FRAME: u32 = 100;

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

fn code(e: &JsValue) -> String {
    assert_eq!(
        Reflect::get(e, &"name".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("KmsEnvelopeError"),
        "not a KmsEnvelopeError: {e:?}"
    );
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    Reflect::get(e, &"code".into())
        .unwrap()
        .as_string()
        .expect("a string code")
}

fn key32() -> Vec<u8> {
    pattern(32, 7)
}

fn raw_aes(name: &str, key: &[u8]) -> WasmKeyring {
    WasmKeyring::raw_aes("ns", name, key).expect("keyring")
}

/// Register the ECDSA module (sig/, linked into this test) as `js/` does
/// after loading `kms_envelope_sig`.
fn register_sig() {
    if has_signature_module() {
        return;
    }
    type Pk = dyn Fn(u8, Vec<u8>) -> Result<Vec<u8>, JsValue>;
    type Sign = dyn Fn(u8, Vec<u8>, Vec<u8>, Vec<u8>) -> Result<Vec<u8>, JsValue>;
    type Check = dyn Fn(u8, Vec<u8>) -> bool;
    type Verify = dyn Fn(u8, Vec<u8>, Vec<u8>, Vec<u8>) -> bool;
    let pk = Closure::<Pk>::new(|c, s: Vec<u8>| kms_envelope_sig::public_key(c, &s));
    let sign = Closure::<Sign>::new(|c, s: Vec<u8>, d: Vec<u8>, e: Vec<u8>| {
        kms_envelope_sig::sign(c, &s, &d, &e)
    });
    let check = Closure::<Check>::new(|c, k: Vec<u8>| kms_envelope_sig::check_public_key(c, &k));
    let verify = Closure::<Verify>::new(|c, k: Vec<u8>, d: Vec<u8>, s: Vec<u8>| {
        kms_envelope_sig::verify(c, &k, &d, &s)
    });
    let f = |c: JsValue| c.unchecked_into::<Function>();
    set_signature_module(
        f(pk.into_js_value()),
        f(sign.into_js_value()),
        f(check.into_js_value()),
        f(verify.into_js_value()),
    );
    assert!(has_signature_module());
}

async fn encryptor(
    keyring: &WasmKeyring,
    suite: u16,
    ec: &[&str],
    seed: Option<Vec<u8>>,
) -> Result<WasmEncryptor, JsValue> {
    register_sig();
    let ec = ec.iter().map(|s| s.to_string()).collect();
    let p = encryptor_new(keyring, Some(suite), FRAME, ec, vec![], None, None, seed)?;
    let v = JsFuture::from(p).await?;
    Ok(WasmEncryptor::try_from_js_value(v).expect("a WasmEncryptor"))
}

/// The frame AEAD as `js/core.js` runs it: WebCrypto, or `seal_frame`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Rust,
    WebCrypto,
}

fn subtle() -> JsValue {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).unwrap();
    Reflect::get(&crypto, &"subtle".into()).unwrap()
}

async fn call_subtle(method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let s = subtle();
    let f: Function = Reflect::get(&s, &method.into())?.dyn_into()?;
    let p: Promise = f.apply(&s, &args.iter().collect::<Array>())?.dyn_into()?;
    JsFuture::from(p).await
}

async fn import_key(raw: &[u8], usage: &str) -> JsValue {
    let usages = Array::of1(&usage.into());
    call_subtle(
        "importKey",
        &[
            "raw".into(),
            Uint8Array::from(raw).into(),
            "AES-GCM".into(),
            false.into(),
            usages.into(),
        ],
    )
    .await
    .expect("importKey")
}

fn gcm_params(iv: &[u8], aad: &[u8]) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"name".into(), &"AES-GCM".into()).unwrap();
    Reflect::set(&o, &"iv".into(), &Uint8Array::from(iv).into()).unwrap();
    Reflect::set(&o, &"additionalData".into(), &Uint8Array::from(aad).into()).unwrap();
    Reflect::set(&o, &"tagLength".into(), &128.into()).unwrap();
    o.into()
}

async fn webcrypto(
    method: &str,
    key: &JsValue,
    iv: &[u8],
    aad: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, JsValue> {
    let r = call_subtle(
        method,
        &[
            gcm_params(iv, aad),
            key.clone(),
            Uint8Array::from(data).into(),
        ],
    )
    .await?;
    Ok(Uint8Array::new(&r).to_vec())
}

/// A whole message, cut into frames of `FRAME` bytes.
async fn seal(enc: &mut WasmEncryptor, pt: &[u8], backend: Backend) -> Vec<u8> {
    let key = import_key(&enc.content_key(), "encrypt").await;
    let mut out = enc.header();
    let mut chunks: Vec<&[u8]> = pt.chunks(FRAME as usize).collect();
    if chunks.is_empty() {
        chunks.push(&[]); // an empty message still has a (empty) final frame
    }
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let spec = enc
            .begin_frame(chunk.len() as u32, i + 1 == n)
            .expect("begin_frame");
        let pl = spec[0] as usize;
        out.extend_from_slice(&spec[1..1 + pl]);
        let (iv, aad) = spec[1 + pl..].split_at(12);
        match backend {
            Backend::Rust => out.extend_from_slice(&enc.seal_frame(chunk).expect("seal_frame")),
            Backend::WebCrypto => {
                let body = webcrypto("encrypt", &key, iv, aad, chunk)
                    .await
                    .expect("encrypt");
                if enc.is_signed() {
                    enc.end_frame_signed(&body).expect("end_frame_signed");
                } else {
                    enc.end_frame().expect("end_frame");
                }
                out.extend_from_slice(&body);
            }
        }
    }
    out.extend_from_slice(&enc.finish().expect("finish"));
    out
}

fn decryptor(ec: &[&str]) -> WasmDecryptor {
    let ec = ec.iter().map(|s| s.to_string()).collect();
    WasmDecryptor::new(ec, None, false, None, None, None).expect("decryptor")
}

async fn materials(dec: &WasmDecryptor, keyring: &WasmKeyring) -> Result<WasmMaterials, JsValue> {
    let v = JsFuture::from(dec.request_materials(keyring)?).await?;
    Ok(WasmMaterials::try_from_js_value(v).expect("WasmMaterials"))
}

/// Decrypt a whole message as `js/decrypt.js` does, in pieces of `piece`
/// bytes for the header; returns the plaintext or the first error.
async fn open(
    ct: &[u8],
    keyring: &WasmKeyring,
    ec: &[&str],
    backend: Backend,
    piece: usize,
) -> Result<Vec<u8>, JsValue> {
    let mut dec = decryptor(ec);
    let mut off = 0;
    loop {
        if off >= ct.len() {
            dec.finish()?;
            unreachable!("finish must fail on a truncated header");
        }
        let end = (off + piece).min(ct.len());
        match dec.push_header(&ct[off..end])? {
            None => off = end,
            Some(n) => {
                off += n as usize;
                break;
            }
        }
    }
    let m = materials(&dec, keyring).await?;
    dec.supply_materials(m)?;
    let key = import_key(&dec.content_key()?, "decrypt").await;
    let mut out = Vec::new();
    while off < ct.len() {
        let head = &ct[off..(off + 24).min(ct.len())];
        let Some(u) = dec.next_unit(head)? else {
            dec.finish()?;
            unreachable!("finish must fail on a truncated unit");
        };
        let (kind, total, ct_off) = (u[0] as u32, u[1] as usize, u[2] as usize);
        if off + total > ct.len() {
            dec.finish()?;
            unreachable!("finish must fail on a truncated unit");
        }
        let unit = &ct[off..off + total];
        if kind == 3 {
            dec.verify_footer(unit)?;
        } else if backend == Backend::Rust {
            out.extend_from_slice(&dec.open_unit(unit)?);
        } else {
            let iv_aad = dec.iv_aad();
            if dec.is_signed() {
                dec.absorb(unit)?;
            }
            match webcrypto(
                "decrypt",
                &key,
                &iv_aad[..12],
                &iv_aad[12..],
                &unit[ct_off..],
            )
            .await
            {
                Ok(pt) => {
                    dec.frame_ok()?;
                    out.extend_from_slice(&pt);
                }
                Err(_) => return Err(dec.frame_failed()),
            }
        }
        off += total;
    }
    dec.finish()?;
    assert!(dec.is_done());
    Ok(out)
}

#[wasm_bindgen_test]
fn version_is_the_core_version() {
    assert_eq!(kms_envelope::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
async fn round_trip_every_size_both_suites_both_backends() {
    let keyring = raw_aes("k1", &key32());
    for suite in [0x0478u16, 0x0578] {
        for size in [0usize, 1, 99, 100, 101, 1000] {
            let pt = pattern(size, size as u8);
            for eb in [Backend::Rust, Backend::WebCrypto] {
                let mut enc = encryptor(&keyring, suite, &["tenant", "a"], None)
                    .await
                    .unwrap();
                assert_eq!(enc.suite(), suite);
                assert_eq!(enc.is_signed(), suite == 0x0578);
                let ct = seal(&mut enc, &pt, eb).await;
                if suite == 0x0478 {
                    assert_eq!(ct.len() as f64, enc.ciphertext_length(size as f64).unwrap());
                } else {
                    assert!(ct.len() as f64 <= enc.ciphertext_length(size as f64).unwrap());
                }
                for db in [Backend::Rust, Backend::WebCrypto] {
                    let back = open(&ct, &keyring, &["tenant", "a"], db, 7).await.unwrap();
                    assert_eq!(back, pt, "suite {suite:#x} size {size} {eb:?} -> {db:?}");
                }
            }
        }
    }
}

#[wasm_bindgen_test]
async fn decryptor_reports_the_header() {
    let keyring = raw_aes("k1", &key32());
    let mut enc = encryptor(&keyring, 0x0578, &["b", "2", "a", "1"], None)
        .await
        .unwrap();
    let ct = seal(&mut enc, b"hi", Backend::Rust).await;
    let mut dec = decryptor(&[]);
    let n = dec.push_header(&ct).unwrap().expect("a whole header") as usize;
    assert!(n < ct.len());
    let m = materials(&dec, &keyring).await.unwrap();
    dec.supply_materials(m).unwrap();
    assert_eq!(dec.suite(), Some(0x0578));
    assert!(dec.is_signed());
    assert_eq!(dec.key_ids(), vec!["ns/k1".to_string()]);
    // Sorted by key; the signed suite adds the public key.
    let ec = dec.encryption_context();
    assert_eq!(ec.len(), 6);
    assert_eq!(&ec[..3], &["a", "1", "aws-crypto-public-key"]);
    assert_eq!(&ec[4..], &["b", "2"]);
    assert_eq!(dec.content_key().unwrap().len(), 32);
}

#[wasm_bindgen_test]
async fn error_codes_reach_js() {
    let keyring = raw_aes("k1", &key32());
    let pt = pattern(250, 1);
    let mut enc = encryptor(&keyring, 0x0578, &["a", "b"], None)
        .await
        .unwrap();
    let ct = seal(&mut enc, &pt, Backend::Rust).await;
    let header_len = {
        let mut d = decryptor(&[]);
        d.push_header(&ct).unwrap().unwrap() as usize
    };
    let flip = |at: usize| {
        let mut c = ct.clone();
        c[at] ^= 1;
        c
    };
    for backend in [Backend::Rust, Backend::WebCrypto] {
        let fails = |e: Result<Vec<u8>, JsValue>| code(&e.expect_err("must fail"));
        assert_eq!(
            fails(open(&flip(header_len - 1), &keyring, &[], backend, 4096).await),
            "HEADER_AUTH_FAILED"
        );
        assert_eq!(
            fails(open(&flip(header_len + 30), &keyring, &[], backend, 4096).await),
            "BODY_AUTH_FAILED"
        );
        assert_eq!(
            fails(open(&flip(header_len + 1), &keyring, &[], backend, 4096).await),
            "MALFORMED_MESSAGE"
        );
        assert_eq!(
            fails(open(&flip(0), &keyring, &[], backend, 4096).await),
            "UNSUPPORTED_VERSION"
        );
        assert_eq!(
            fails(open(&flip(ct.len() - 5), &keyring, &[], backend, 4096).await),
            "SIGNATURE_INVALID"
        );
        for cut in [1, 20, header_len - 1, header_len + 10, ct.len() - 1] {
            assert_eq!(
                fails(open(&ct[..cut], &keyring, &[], backend, 4096).await),
                "TRUNCATED_MESSAGE",
                "cut {cut}"
            );
        }
        assert_eq!(
            fails(open(&ct, &keyring, &["a", "c"], backend, 4096).await),
            "ENCRYPTION_CONTEXT_MISMATCH"
        );
        let wrong = raw_aes("k1", &pattern(32, 8));
        assert_eq!(
            fails(open(&ct, &wrong, &[], backend, 4096).await),
            "KEYRING_ERROR"
        );
        let stranger = WasmKeyring::raw_aes("other", "k1", &key32()).unwrap();
        assert_eq!(
            fails(open(&ct, &stranger, &[], backend, 4096).await),
            "NO_DECRYPTABLE_KEY"
        );
    }
    // Synchronous errors of the constructors and arguments.
    let e = WasmKeyring::raw_aes("ns", "k", &[0; 20])
        .err()
        .expect("bad key size");
    assert_eq!(code(&e), "INVALID_KEY");
    let e = WasmDecryptor::new(vec!["odd".into()], None, false, None, None, None)
        .err()
        .expect("odd context");
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    let e = WasmDecryptor::new(vec![], Some("nope".into()), false, None, None, None)
        .err()
        .expect("bad policy");
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    let e = encryptor(&keyring, 0x0178, &[], None)
        .await
        .err()
        .expect("legacy suite under the default policy");
    assert_eq!(code(&e), "COMMITMENT_POLICY_VIOLATION");
    let e = encryptor(&keyring, 0x1234, &[], None)
        .await
        .err()
        .expect("unknown suite");
    assert_eq!(code(&e), "UNSUPPORTED_SUITE");
    // The frame protocol refuses misuse instead of producing a bad message.
    let mut enc = encryptor(&keyring, 0x0478, &[], None).await.unwrap();
    let e = enc.end_frame().expect_err("end_frame before begin_frame");
    assert_eq!(code(&e), "INVALID_STATE");
    let e = enc
        .begin_frame(0, true)
        .expect_err("a failed encryptor stays failed");
    assert_eq!(code(&e), "INVALID_STATE");
    let mut enc = encryptor(&keyring, 0x0478, &[], None).await.unwrap();
    let e = enc
        .begin_frame(FRAME + 1, false)
        .expect_err("frame longer than the frame length");
    assert_eq!(code(&e), "INVALID_ARGUMENT");
}

/// A keyring in JS with a fixed data key, so that the output depends on the seed only.
fn fixed_js_keyring() -> WasmKeyring {
    WasmKeyring::from_js(fixed_js_keyring_object())
}

fn fixed_js_keyring_object() -> Object {
    let on_encrypt = Function::new_with_args(
        "m",
        "return { ...m, plaintextDataKey: new Uint8Array(32).fill(0x5a), \
         encryptedDataKeys: [...m.encryptedDataKeys, \
           { providerId: 'fixed', providerInfo: new Uint8Array([1, 2]), ciphertext: new Uint8Array([3]) }] };",
    );
    let on_decrypt = Function::new_with_args(
        "m, edks",
        "return edks.some((e) => e.providerId === 'fixed') \
           ? { ...m, plaintextDataKey: new Uint8Array(32).fill(0x5a) } : null;",
    );
    let o = Object::new();
    Reflect::set(&o, &"onEncrypt".into(), &on_encrypt).unwrap();
    Reflect::set(&o, &"onDecrypt".into(), &on_decrypt).unwrap();
    o
}

#[wasm_bindgen_test]
async fn backends_are_byte_identical_and_js_keyrings_work() {
    let keyring = fixed_js_keyring();
    for suite in [0x0478u16, 0x0578] {
        for size in [0usize, 100, 1234] {
            let pt = pattern(size, 2);
            let seed = vec![suite as u8, size as u8];
            let mut a = encryptor(&keyring, suite, &["k", "v"], Some(seed.clone()))
                .await
                .unwrap();
            let mut b = encryptor(&keyring, suite, &["k", "v"], Some(seed))
                .await
                .unwrap();
            let ra = seal(&mut a, &pt, Backend::Rust).await;
            let wb = seal(&mut b, &pt, Backend::WebCrypto).await;
            assert_eq!(ra, wb, "suite {suite:#x} size {size}");
            assert_eq!(
                open(&ra, &keyring, &["k", "v"], Backend::WebCrypto, 4096)
                    .await
                    .unwrap(),
                pt
            );
        }
    }
    let mut a = encryptor(&keyring, 0x0478, &[], Some(vec![1]))
        .await
        .unwrap();
    let mut b = encryptor(&keyring, 0x0478, &[], Some(vec![2]))
        .await
        .unwrap();
    assert_ne!(
        seal(&mut a, b"x", Backend::Rust).await,
        seal(&mut b, b"x", Backend::Rust).await
    );
    // A throwing JS keyring becomes KEYRING_ERROR with its message.
    let o = Object::new();
    Reflect::set(
        &o,
        &"onEncrypt".into(),
        &Function::new_no_args("throw new Error('boom')"),
    )
    .unwrap();
    let e = encryptor(&WasmKeyring::from_js(o), 0x0478, &[], None)
        .await
        .err()
        .expect("throws");
    assert_eq!(code(&e), "KEYRING_ERROR");
    let msg = Reflect::get(&e, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(msg.contains("boom"), "{msg}");
}

#[wasm_bindgen_test]
async fn multi_keyring_children_decrypt() {
    let a = raw_aes("k1", &key32());
    let b = WasmKeyring::raw_aes("ns", "k2", &pattern(16, 5)).unwrap();
    let multi = WasmKeyring::multi(Some(a.clone_handle()), vec![b.clone_handle()]).unwrap();
    let mut enc = encryptor(&multi, 0x0478, &[], None).await.unwrap();
    let ct = seal(&mut enc, &pattern(500, 3), Backend::WebCrypto).await;
    assert_eq!(
        open(&ct, &b, &[], Backend::Rust, 4096).await.unwrap(),
        pattern(500, 3)
    );
    assert_eq!(
        open(&ct, &a, &[], Backend::WebCrypto, 4096).await.unwrap(),
        pattern(500, 3)
    );
    let mut d = decryptor(&[]);
    d.push_header(&ct).unwrap().unwrap();
    assert_eq!(d.key_ids(), vec!["ns/k1".to_string(), "ns/k2".to_string()]);
}

#[wasm_bindgen_test]
fn signature_module_signs_and_verifies_digests() {
    use kms_envelope_sig::{check_public_key, public_key, sign, verify, P256, P384};
    for (curve, n) in [(P256, 32usize), (P384, 48)] {
        let secret = pattern(n, 1);
        let pk = public_key(curve, &secret).expect("a valid scalar");
        assert_eq!(pk.len(), n + 1);
        assert!(pk[0] == 2 || pk[0] == 3);
        assert!(check_public_key(curve, &pk));
        let digest = pattern(n, 9);
        let der = sign(curve, &secret, &digest, b"entropy").unwrap();
        assert!(verify(curve, &pk, &digest, &der));
        // Same inputs, same signature; other entropy, another valid one.
        assert_eq!(der, sign(curve, &secret, &digest, b"entropy").unwrap());
        let der2 = sign(curve, &secret, &digest, b"other").unwrap();
        assert_ne!(der, der2);
        assert!(verify(curve, &pk, &digest, &der2));
        let mut bad = digest.clone();
        bad[0] ^= 1;
        assert!(!verify(curve, &pk, &bad, &der));
        let mut bad_sig = der.clone();
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 1;
        assert!(!verify(curve, &pk, &digest, &bad_sig));
        let mut bad_pk = pk.clone();
        bad_pk[5] ^= 1;
        assert!(!verify(curve, &bad_pk, &digest, &der) || !check_public_key(curve, &bad_pk));
        assert!(public_key(curve, &vec![0; n]).is_err(), "zero scalar");
        assert!(
            public_key(curve, &vec![0xff; n]).is_err(),
            "scalar above the order"
        );
    }
    assert!(public_key(7, &[1; 32]).is_err());
    assert!(!check_public_key(P384, &[2; 10]));
}

#[wasm_bindgen_test]
async fn js_keyring_shapes_give_exact_ciphertext_lengths() {
    let len = |k: &WasmKeyring, n: usize| {
        kms_envelope::ciphertext_length(n as f64, k, Some(0x0478), FRAME, vec![], vec![], None)
            .unwrap()
    };
    let keyring = fixed_js_keyring();
    assert_eq!(len(&keyring, 10), None, "no shapes: unknown");
    // The fixed keyring's EDK: providerId 'fixed' (5), info 2 bytes, ciphertext 1 byte.
    let o = Object::new();
    for name in ["onEncrypt", "onDecrypt"] {
        let f = Reflect::get(&fixed_js_keyring_object(), &name.into()).unwrap();
        Reflect::set(&o, &name.into(), &f).unwrap();
    }
    let shapes = Function::new_with_args("suite", "return suite === 0x0478 ? [[5, 2, 1]] : null;");
    Reflect::set(&o, &"encryptedDataKeyShapes".into(), &shapes).unwrap();
    let shaped = WasmKeyring::from_js(o);
    for n in [0usize, 1, 100, 250] {
        let mut enc = encryptor(&shaped, 0x0478, &[], None).await.unwrap();
        let ct = seal(&mut enc, &pattern(n, 4), Backend::Rust).await;
        assert_eq!(len(&shaped, n), Some(ct.len() as f64), "{n} bytes");
    }
}

thread_local! {
    /// The test's host hashes: what each live one received, by id.
    static HOSTED: std::cell::RefCell<Vec<Option<Vec<u8>>>> = const { std::cell::RefCell::new(Vec::new()) };
    /// What each finished one had received, in order.
    static FINISHED: std::cell::RefCell<Vec<(usize, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The host-hash plumbing (Node registers node:crypto this way): each piece
/// arrives as a view of the wasm memory; the pieces of a signed message must be
/// exactly its bytes before the footer, for the signer and the verifier.
#[wasm_bindgen_test]
async fn host_hash_sees_exactly_the_signed_bytes() {
    use sha2::Digest;
    type Create = dyn Fn(u32) -> f64;
    type Update = dyn Fn(f64, Vec<u8>);
    type Finish = dyn Fn(f64) -> Vec<u8>;
    type Discard = dyn Fn(f64);
    let create = Closure::<Create>::new(|bits: u32| {
        assert!(bits == 256 || bits == 384);
        HOSTED.with(|h| {
            let mut h = h.borrow_mut();
            h.push(Some(Vec::new()));
            (h.len() - 1) as f64
        })
    });
    let update = Closure::<Update>::new(|id: f64, b: Vec<u8>| {
        HOSTED.with(|h| {
            h.borrow_mut()[id as usize]
                .as_mut()
                .unwrap()
                .extend_from_slice(&b)
        })
    });
    let finish = Closure::<Finish>::new(|id: f64| {
        let all = HOSTED.with(|h| h.borrow_mut()[id as usize].take().unwrap());
        let d = sha2::Sha384::digest(&all).to_vec();
        FINISHED.with(|f| f.borrow_mut().push((id as usize, all)));
        d
    });
    let discard = Closure::<Discard>::new(|id: f64| {
        HOSTED.with(|h| h.borrow_mut()[id as usize] = None);
    });
    let f = |c: JsValue| c.unchecked_into::<Function>();
    kms_envelope::set_host_hash(
        f(create.into_js_value()),
        f(update.into_js_value()),
        f(finish.into_js_value()),
        f(discard.into_js_value()),
    );
    let keyring = raw_aes("k1", &key32());
    let before = FINISHED.with(|f| f.borrow().len());
    let pt = pattern(1000, 5);
    let mut enc = encryptor(&keyring, 0x0578, &["a", "b"], None)
        .await
        .unwrap();
    let ct = seal(&mut enc, &pt, Backend::WebCrypto).await;
    assert_eq!(
        open(&ct, &keyring, &[], Backend::Rust, 4096).await.unwrap(),
        pt
    );
    let done = FINISHED.with(|f| f.borrow()[before..].to_vec());
    assert_eq!(done.len(), 2, "one signer and one verifier hash");
    let signed = &done[0].1;
    assert_eq!(
        ct.len() - signed.len(),
        2 + 103,
        "all but the footer was hashed"
    );
    assert_eq!(&ct[..signed.len()], &signed[..]);
    assert_eq!(&done[1].1, signed, "the verifier hashed the same bytes");
    // A bad signature fails against the host's digest.
    let mut bad = ct.clone();
    let at = bad.len() - 5;
    bad[at] ^= 1;
    let e = open(&bad, &keyring, &[], Backend::Rust, 4096)
        .await
        .expect_err("bad signature");
    assert_eq!(code(&e), "SIGNATURE_INVALID");
    // An abandoned message discards its hash; none is left behind.
    drop(encryptor(&keyring, 0x0578, &[], None).await.unwrap());
    HOSTED.with(|h| assert!(h.borrow().iter().all(Option::is_none), "all released"));
}
