//! Conformance against the AWS-published ESDK-.NET decrypt vectors in
//! `testdata/esdk-official/` (see its README for the manifest format).
//!
//! * `net-4.0.1`: the 99 raw-key cases must decrypt byte for byte; the 33
//!   `aws-kms` cases need AWS, so only their headers are checked.
//! * `net-4.0.0-valid`: all 5 must decrypt.
//! * `net-4.0.0-invalid`: ESDK-.NET 4.0.0 wrote these with a wrong header
//!   authentication AAD or a wrong HKDF info; a conforming decryptor must
//!   reject all 28.
//!
//! Every message goes through the one-shot helper and through the streaming
//! [`Decryptor`] fed in seeded random chunks of 1..=700 bytes.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use base64::Engine;
use common::{read, read_json, str_field, SplitMix};
use kms_envelope_core::keyring::BoxFuture;
use kms_envelope_core::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use kms_envelope_core::*;
use serde_json::Value;

/// One manifest: its folder, its keys and its tests.
struct Manifest {
    dir: PathBuf,
    keys: Value,
    tests: Vec<(String, Value)>,
}

fn load(name: &str) -> Manifest {
    load_file(name, "manifest.json", 4)
}

fn load_file(name: &str, file: &str, version: u64) -> Manifest {
    let dir = common::testdata().join("esdk-official").join(name);
    let m = read_json(&dir.join(file));
    assert_eq!(m["manifest"]["type"], "awses-decrypt", "{name}");
    assert_eq!(m["manifest"]["version"], version, "{name}");
    let keys = read_json(&dir.join(uri_path(str_field(&m, "keys"))));
    assert_eq!(keys["manifest"]["type"], "keys", "{name}");
    let tests = m["tests"]
        .as_object()
        .expect("tests is an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Manifest {
        dir,
        keys: keys["keys"].clone(),
        tests,
    }
}

fn uri_path(uri: &str) -> &str {
    uri.strip_prefix("file://")
        .unwrap_or_else(|| panic!("not a file:// URI: {uri}"))
}

impl Manifest {
    fn file(&self, test: &Value, key: &str) -> Vec<u8> {
        read(&self.dir.join(uri_path(str_field(test, key))))
    }

    fn key(&self, name: &str) -> &Value {
        let k = &self.keys[name];
        assert!(k.is_object(), "key {name} is not in keys.json");
        k
    }

    /// PEM or base64 material; a list of lines is joined by `line-separator`.
    fn material(key: &Value) -> String {
        match &key["material"] {
            Value::String(s) => s.clone(),
            Value::Array(lines) => {
                let sep = key["line-separator"].as_str().unwrap_or("");
                lines
                    .iter()
                    .map(|l| l.as_str().expect("material line"))
                    .collect::<Vec<_>>()
                    .join(sep)
            }
            other => panic!("unexpected material {other}"),
        }
    }

    /// The keyring of a test's raw master keys; `None` if it has none.
    fn keyring(&self, test: &Value) -> Option<Box<dyn Keyring>> {
        let mut children: Vec<Box<dyn Keyring>> = Vec::new();
        for mk in test["master-keys"].as_array().expect("master-keys") {
            if mk["type"] != "raw" {
                continue;
            }
            let key = self.key(str_field(mk, "key"));
            let namespace = str_field(mk, "provider-id");
            let name = str_field(key, "key-id");
            let material = Self::material(key);
            let kr: Box<dyn Keyring> = match str_field(mk, "encryption-algorithm") {
                "aes" => {
                    assert_eq!(key["encoding"], "base64");
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(material)
                        .expect("base64 key");
                    assert_eq!(Some(bytes.len() as u64 * 8), key["bits"].as_u64());
                    Box::new(RawAesKeyring::new(namespace, name, SecretBytes::new(bytes)).unwrap())
                }
                "rsa" => {
                    assert_eq!(key["encoding"], "pem");
                    let padding = match str_field(mk, "padding-algorithm") {
                        "pkcs1" => RsaPadding::Pkcs1,
                        "oaep-mgf1" => RsaPadding::from_name(&format!(
                            "oaep-{}",
                            str_field(mk, "padding-hash")
                        ))
                        .expect("known OAEP hash"),
                        other => panic!("unknown padding {other}"),
                    };
                    Box::new(RawRsaKeyring::from_pem(namespace, name, &material, padding).unwrap())
                }
                other => panic!("unknown raw algorithm {other}"),
            };
            children.push(kr);
        }
        match children.len() {
            0 => None,
            1 => children.pop(),
            _ => Some(Box::new(MultiKeyring::new(None, children).unwrap())),
        }
    }

    /// The raw-key tests, in manifest order.
    /// Tests with the same master keys share one keyring (parsing an
    /// RSA-4096 key is slow in debug builds).
    fn raw_tests(&self) -> Vec<(&str, &Value, Rc<dyn Keyring>)> {
        let mut cache: HashMap<String, Option<Rc<dyn Keyring>>> = HashMap::new();
        self.tests
            .iter()
            .filter_map(|(id, t)| {
                let kr = cache
                    .entry(t["master-keys"].to_string())
                    .or_insert_with(|| self.keyring(t).map(Rc::from))
                    .clone()?;
                Some((id.as_str(), t, kr))
            })
            .collect()
    }
}

fn manifest_context(test: &Value) -> EncryptionContext {
    test["encryption-context"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("EC value").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn options(test: &Value) -> DecryptOptions {
    let mut o = DecryptOptions::default();
    o.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
    o.encryption_context = manifest_context(test);
    o.unsigned_only = match test["decryption-method"].as_str() {
        None => false,
        Some("streaming-unsigned-only") => true,
        Some(other) => panic!("unknown decryption-method {other}"),
    };
    o
}

/// The suite id a test's name starts with (`0478-ec_len_2-...`).
fn suite_of(id: &str) -> u16 {
    u16::from_str_radix(&id[..4], 16).unwrap_or_else(|_| panic!("test id {id}"))
}

/// Decrypt through the streaming machine in random chunks. On failure,
/// returns the error and how many plaintext bytes had been released.
fn decrypt_streaming(
    kr: &dyn Keyring,
    ct: &[u8],
    opts: &DecryptOptions,
    rng: &mut SplitMix,
) -> Result<Vec<u8>, (Error, usize)> {
    let mut dec = Decryptor::new(opts.clone());
    let mut out = Vec::new();
    let mut rest = ct;
    while !rest.is_empty() {
        let n = rng.range(1, 700).min(rest.len());
        if let Err(e) = pollster::block_on(dec.update_with(kr, &rest[..n], &mut out)) {
            return Err((e, out.len()));
        }
        rest = &rest[n..];
    }
    dec.finish().map_err(|e| (e, out.len()))?;
    Ok(out)
}

/// A transparent wrapper that records the data key its keyring unwraps on
/// the first call, and replays it on later calls for the same encrypted data
/// keys (so a second pass does not pay for RSA-4096 again; slow in debug).
struct Memo<'k> {
    inner: &'k dyn Keyring,
    seen: RefCell<Option<(Vec<EncryptedDataKey>, SecretBytes)>>,
}

impl Keyring for Memo<'_> {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        self.inner.on_encrypt(materials)
    }

    fn on_decrypt<'a>(
        &'a self,
        mut materials: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            let replay = match &*self.seen.borrow() {
                Some((seen, key)) if seen == edks => Some(key.duplicate()),
                _ => None,
            };
            if let Some(key) = replay {
                materials.plaintext_data_key = Some(key);
                return Ok(materials);
            }
            let m = self.inner.on_decrypt(materials, edks).await?;
            if let Some(key) = &m.plaintext_data_key {
                *self.seen.borrow_mut() = Some((edks.to_vec(), key.duplicate()));
            }
            Ok(m)
        })
    }
}

/// Decrypt every raw-key test of `name` and return how many there were.
fn check_decrypts(name: &str, seed: u64) -> usize {
    let m = load(name);
    let mut rng = SplitMix(seed);
    let raw = m.raw_tests();
    for (id, t, kr) in &raw {
        let expected = m.file(&t["result"]["output"], "plaintext");
        let ct = m.file(t, "ciphertext");
        let opts = options(t);
        let memo = Memo {
            inner: kr.as_ref(),
            seen: RefCell::new(None),
        };
        let got = pollster::block_on(decrypt(&memo, &ct, &opts))
            .unwrap_or_else(|e| panic!("{name}/{id}: {} ({e})", e.code()));
        assert!(
            memo.seen.borrow().is_some(),
            "{name}/{id}: keyring not used"
        );
        assert!(got.plaintext == expected, "{name}/{id}: plaintext differs");
        assert_eq!(got.header.suite.id(), suite_of(id), "{name}/{id}");
        for (k, v) in opts.encryption_context.iter() {
            assert_eq!(
                got.encryption_context.get(k),
                Some(v),
                "{name}/{id}: EC {k}"
            );
        }
        let streamed = decrypt_streaming(&memo, &ct, &opts, &mut rng)
            .unwrap_or_else(|(e, _)| panic!("{name}/{id} streaming: {} ({e})", e.code()));
        assert!(
            streamed == expected,
            "{name}/{id}: streamed plaintext differs"
        );
    }
    raw.len()
}

#[test]
fn net_4_0_1_raw_key_cases_decrypt() {
    assert_eq!(check_decrypts("net-4.0.1", 401), 99);
}

#[test]
fn net_4_0_0_valid_cases_decrypt() {
    assert_eq!(check_decrypts("net-4.0.0-valid", 400), 5);
}

#[test]
fn net_4_0_0_invalid_cases_are_rejected() {
    let m = load("net-4.0.0-invalid");
    let mut rng = SplitMix(4000);
    let raw = m.raw_tests();
    assert_eq!(raw.len(), 28);
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, t, kr) in &raw {
        let ct = m.file(t, "ciphertext");
        let opts = options(t);
        let Err(err) = pollster::block_on(decrypt(kr.as_ref(), &ct, &opts)) else {
            panic!("{id}: a 4.0.0 message must not decrypt");
        };
        let Err((serr, released)) = decrypt_streaming(kr.as_ref(), &ct, &opts, &mut rng) else {
            panic!("{id}: streaming must fail too");
        };
        assert_eq!(
            serr.code(),
            err.code(),
            "{id}: one-shot and streaming differ"
        );
        assert_eq!(released, 0, "{id}: plaintext released before failure");
        *codes.entry(err.code()).or_default() += 1;
    }
    eprintln!("net-4.0.0-invalid error codes: {codes:?}");
    // The 4.0.0 bugs (extra AAD bytes, HKDF info without the message id) both
    // surface as a header tag that does not verify under the right data key.
    assert_eq!(codes, BTreeMap::from([("HEADER_AUTH_FAILED", 28)]));
}

#[test]
fn net_4_0_1_aws_kms_headers_parse() {
    let m = load("net-4.0.1");
    let aes = m.raw_tests().into_iter().find_map(|(_, t, kr)| {
        (t["master-keys"][0]["encryption-algorithm"] == "aes").then_some(kr)
    });
    let aes = aes.expect("an AES test");
    let mut n = 0;
    for (id, t) in &m.tests {
        let mks = t["master-keys"].as_array().unwrap();
        if mks.iter().any(|mk| mk["type"] != "aws-kms") {
            continue;
        }
        n += 1;
        let arns: Vec<&str> = mks
            .iter()
            .map(|mk| str_field(m.key(str_field(mk, "key")), "key-id"))
            .collect();
        let ct = m.file(t, "ciphertext");
        let p = Header::parse(&ct, &Limits::default())
            .unwrap_or_else(|e| panic!("{id}: {}", e.code()))
            .unwrap_or_else(|| panic!("{id}: header incomplete"));
        assert!(p.total_len < ct.len(), "{id}");
        assert_eq!(p.header.suite.id(), suite_of(id), "{id}");
        assert_eq!(p.header.frame_length, 512, "{id}");
        assert_eq!(p.header.content_type, ContentType::Framed, "{id}");
        assert!(!p.header.encrypted_data_keys.is_empty(), "{id}");
        for edk in &p.header.encrypted_data_keys {
            assert_eq!(edk.provider_id, b"aws-kms", "{id}");
            let info = std::str::from_utf8(&edk.provider_info).expect("ARN is UTF-8");
            assert!(info.starts_with("arn:aws:kms:"), "{id}: {info}");
            assert!(arns.contains(&info), "{id}: {info} not in keys.json");
            assert!(!edk.ciphertext.is_empty(), "{id}");
        }
        // Without AWS, no raw keyring may claim a KMS key.
        let err = pollster::block_on(decrypt(aes.as_ref(), &ct, &options(t))).unwrap_err();
        assert_eq!(err.code(), "NO_DECRYPTABLE_KEY", "{id}");
    }
    assert_eq!(n, 33);
}

/// The header tag of a message under a data key, with or without each of the
/// two ESDK-.NET 4.0.0 deviations: `extra_aad` appends a 2-byte zero count
/// for an empty required encryption context (the spec says zero bytes);
/// `no_msgid_info` leaves the message id out of the HKDF info of the
/// non-committing HKDF suites.
fn header_tag_verifies(
    ct: &[u8],
    p: &kms_envelope_core::header::ParsedHeader,
    required: &EncryptionContext,
    data_key: &[u8],
    extra_aad: bool,
    no_msgid_info: bool,
) -> bool {
    use kms_envelope_core::crypto::default_provider;
    use kms_envelope_core::suite::HashAlg;
    let provider = default_provider();
    let suite = p.header.suite;
    let mut aad = ct[..p.body_len].to_vec();
    aad.extend_from_slice(&required.serialize().unwrap());
    if extra_aad && required.is_empty() {
        aad.extend_from_slice(&[0, 0]);
    }
    let hash = match suite.id() >> 8 {
        0x01 | 0x02 => Some(HashAlg::Sha256),
        0x03 => Some(HashAlg::Sha384),
        _ => None,
    };
    let key = match hash {
        Some(hash) if no_msgid_info => {
            let mut k = vec![0u8; suite.key_len()];
            provider
                .hkdf(hash, data_key, None, &suite.id().to_be_bytes(), &mut k)
                .unwrap();
            provider.aead_key(&k).unwrap()
        }
        _ => {
            body::derive_keys(provider.as_ref(), suite, data_key, &p.header.message_id)
                .unwrap()
                .content_key
        }
    };
    key.open_in_place(&p.auth.iv, &aad, &mut [], &p.auth.tag)
        .is_ok()
}

/// Each invalid message fails for exactly the documented reason: under the
/// data key its EDK unwraps to, the header tag verifies only once the
/// 4.0.0 deviations that apply to its suite and CMM are reproduced.
#[test]
fn net_4_0_0_invalid_cases_fail_for_the_documented_reasons() {
    let m = load("net-4.0.0-invalid");
    let mut seen: BTreeMap<(bool, bool), usize> = BTreeMap::new();
    for (id, t, kr) in &m.raw_tests() {
        let ct = m.file(t, "ciphertext");
        let opts = options(t);
        let mut dec = Decryptor::new(opts.clone());
        assert_eq!(dec.update(&ct, &mut Vec::new()), Ok(Status::NeedMaterials));
        let (materials, edks) = dec.materials_request().unwrap();
        let edks = edks.to_vec();
        let materials = pollster::block_on(kr.on_decrypt(materials, &edks)).unwrap();
        let data_key = materials.plaintext_data_key.expect("the EDK unwraps");
        let p = Header::parse(&ct, &Limits::default()).unwrap().unwrap();
        let required: EncryptionContext = opts
            .encryption_context
            .iter()
            .filter(|(k, _)| !p.header.encryption_context.contains_key(k))
            .collect();
        let cmm_default = id.contains("-cmm_Default-");
        assert_eq!(required.is_empty(), cmm_default, "{id}");
        let hkdf_no_commit = matches!(suite_of(id) >> 8, 0x01..=0x03);
        let mut verifying = Vec::new();
        for extra_aad in [false, true] {
            for no_msgid in [false, true] {
                if header_tag_verifies(&ct, &p, &required, data_key.expose(), extra_aad, no_msgid) {
                    verifying.push((extra_aad, no_msgid));
                }
            }
        }
        // Where a deviation does not apply the flag changes nothing, so the
        // minimal combination is the one that names the bug.
        let expected = (cmm_default, hkdf_no_commit);
        assert!(verifying.contains(&expected), "{id}: {verifying:?}");
        assert!(
            !verifying.contains(&(false, false)),
            "{id}: spec AAD verifies"
        );
        assert!(
            verifying
                .iter()
                .all(|&(a, h)| (a || !cmm_default) && (h || !hkdf_no_commit)),
            "{id}: {verifying:?}"
        );
        *seen.entry(expected).or_default() += 1;
    }
    // 22 Default-CMM cases carry the AAD bug; the 18 non-committing HKDF cases
    // (6 suites, 3 each) carry the HKDF bug; 12 carry both.
    assert_eq!(
        seen,
        BTreeMap::from([((true, false), 10), ((true, true), 12), ((false, true), 6)])
    );
}

/// Walk a body and footer by the format's framing rules, independently of
/// the core: returns the plaintext length it carries, and checks that the
/// message ends exactly where the framing says.
fn walk_body(id: &str, ct: &[u8], p: &kms_envelope_core::header::ParsedHeader) -> usize {
    let h = &p.header;
    let be = |at: usize, n: usize| -> u64 {
        ct[at..at + n]
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b))
    };
    let (iv, tag) = (12, 16);
    let mut at = p.total_len;
    let mut content = 0usize;
    match h.content_type {
        ContentType::NonFramed => {
            assert_eq!(h.frame_length, 0, "{id}");
            let len = be(at + iv, 8) as usize;
            at += iv + 8 + len + tag;
            content += len;
        }
        ContentType::Framed => {
            let frame = h.frame_length as usize;
            for seq in 1u64.. {
                if be(at, 4) != 0xFFFF_FFFF {
                    assert_eq!(be(at, 4), seq, "{id}: frame number");
                    at += 4 + iv + frame + tag;
                    content += frame;
                    continue;
                }
                assert_eq!(be(at + 4, 4), seq, "{id}: final frame number");
                let len = be(at + 8 + iv, 4) as usize;
                assert!(len <= frame, "{id}: final frame too long");
                at += 8 + iv + 4 + len + tag;
                content += len;
                break;
            }
        }
        other => panic!("{id}: content type {other:?}"),
    }
    if h.suite.is_signed() {
        at += 2 + be(at, 2) as usize;
    }
    assert_eq!(
        at,
        ct.len(),
        "{id}: the framing does not end with the message"
    );
    content
}

/// Python ESDK 1.3.5 messages (all under AWS KMS keys): every header must
/// parse, carry only `aws-kms` EDKs whose provider info is a listed ARN, and
/// the body's framing must account for the whole message and the plaintext
/// length. The streaming decryptor refuses them under a require-decrypt
/// commitment policy, and otherwise reads each header and, lacking KMS, stops
/// with `NO_DECRYPTABLE_KEY`, releasing nothing either way.
#[test]
fn python_1_3_5_kms_messages_parse() {
    let m = load_file("python-1.3.5-kms-parse-only", "decrypt_message.json", 1);
    let other = RawAesKeyring::new(
        "aws-raw-vectors-persistant",
        "aes-256",
        SecretBytes::new(vec![0; 32]),
    )
    .unwrap();
    let mut rng = SplitMix(135);
    let mut shapes: BTreeMap<(u16, u32), usize> = BTreeMap::new();
    for (id, t) in &m.tests {
        let mks = t["master-keys"].as_array().unwrap();
        assert!(mks.iter().all(|mk| mk["type"] == "aws-kms"), "{id}");
        let arns: Vec<&str> = mks
            .iter()
            .map(|mk| str_field(m.key(str_field(mk, "key")), "key-id"))
            .collect();
        let ct = m.file(t, "ciphertext");
        let pt_len = m.file(t, "plaintext").len();
        let p = Header::parse(&ct, &Limits::default())
            .unwrap_or_else(|e| panic!("{id}: {}", e.code()))
            .unwrap_or_else(|| panic!("{id}: header incomplete"));
        let h = &p.header;
        assert_eq!(h.version(), 1, "{id}");
        assert_eq!(h.message_id.len(), 16, "{id}");
        assert_eq!(
            h.encryption_context.contains_key("aws-crypto-public-key"),
            h.suite.is_signed(),
            "{id}"
        );
        // The manifest lists the keys a decryptor may hold, not the EDKs.
        assert!(!h.encrypted_data_keys.is_empty(), "{id}");
        for edk in &h.encrypted_data_keys {
            assert_eq!(edk.provider_id, b"aws-kms", "{id}");
            let info = std::str::from_utf8(&edk.provider_info).expect("ARN is UTF-8");
            assert!(arns.contains(&info), "{id}: {info} not in keys.json");
        }
        assert_eq!(walk_body(id, &ct, &p), pt_len, "{id}: plaintext length");
        let mut opts = DecryptOptions::default();
        opts.commitment_policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
        let err = decrypt_streaming(&other, &ct, &opts, &mut rng).unwrap_err();
        assert_eq!(
            (err.0.code(), err.1),
            ("COMMITMENT_POLICY_VIOLATION", 0),
            "{id}"
        );
        opts.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
        let err = decrypt_streaming(&other, &ct, &opts, &mut rng).unwrap_err();
        assert_eq!((err.0.code(), err.1), ("NO_DECRYPTABLE_KEY", 0), "{id}");
        *shapes.entry((h.suite.id(), h.frame_length)).or_default() += 1;
    }
    assert_eq!(m.tests.len(), 360);
    eprintln!("python-1.3.5 (suite, frame length): {shapes:?}");
    // The 9 v1 suites (0x0014..0x0378), each non-framed and framed at
    // 512/4096/10240/20480 bytes, 8 messages each.
    let suites = [
        0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378,
    ];
    let expected: BTreeMap<(u16, u32), usize> = suites
        .into_iter()
        .flat_map(|s| [0, 512, 4096, 10240, 20480].map(|f| ((s, f), 8)))
        .collect();
    assert_eq!(shapes, expected);
}
