//! ECDSA from a second wasm module. The main module is built without the
//! core's `ecdsa` feature, so P-256/P-384 are not in it; this provider keeps
//! the core's AES-GCM, HKDF and randomness (or the seeded ones) and does the
//! hashing here, while key derivation, signing and verification of the digest
//! go to the functions that the JS side registers with
//! [`set_signature_module`] once it has loaded `kms_envelope_sig` (it does so
//! before any signed message is encrypted, and before the footer of a signed
//! message is checked).

use std::cell::RefCell;
use std::sync::Arc;

use js_sys::{Function, Uint8Array};
use kms_envelope_core::crypto::rustcrypto::{SIG_LEN_P256, SIG_LEN_P384};
use kms_envelope_core::crypto::{AeadKey, CryptoProvider, Signer, Verifier};
use kms_envelope_core::suite::{Curve, HashAlg};
use kms_envelope_core::{Error, Result, SecretBytes};
use sha2::{Digest, Sha256, Sha384};
use wasm_bindgen::prelude::*;

struct Module {
    public_key: Function,
    sign: Function,
    check_public_key: Function,
    verify: Function,
}

/// A host hash (node:crypto in Node): `create(bits) -> id`, `update(id, bytes)`,
/// `finish(id) -> digest`, `discard(id)`.
struct HostHash {
    create: Function,
    update: Function,
    finish: Function,
    discard: Function,
}

thread_local! {
    static MODULE: RefCell<Option<Module>> = const { RefCell::new(None) };
    static HOST_HASH: RefCell<Option<HostHash>> = const { RefCell::new(None) };
}

/// Let the host hash the signed messages (Node registers node:crypto's
/// SHA-256/SHA-384, faster than this wasm's): `create(bits) -> id`,
/// `update(id, bytes)` (a view of this module's memory, to be read at once),
/// `finish(id) -> Uint8Array`, `discard(id)`.
#[wasm_bindgen]
pub fn set_host_hash(create: Function, update: Function, finish: Function, discard: Function) {
    HOST_HASH.with(|h| {
        *h.borrow_mut() = Some(HostHash {
            create,
            update,
            finish,
            discard,
        })
    });
}

fn host(pick: fn(&HostHash) -> &Function, args: &[JsValue]) -> Option<JsValue> {
    HOST_HASH.with(|h| {
        let h = h.borrow();
        let args: js_sys::Array = args.iter().collect();
        pick(h.as_ref()?).apply(&JsValue::UNDEFINED, &args).ok()
    })
}

/// A view of `data` in this module's memory (no copy; valid until the
/// memory grows, so it is handed to a synchronous call only).
fn view(data: &[u8]) -> JsValue {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let start = data.as_ptr() as usize as u32;
    Uint8Array::new(&mem.buffer())
        .subarray(start, start + data.len() as u32)
        .into()
}

/// Register the signature module's `public_key(curve, secret)`,
/// `sign(curve, secret, digest, entropy)`, `check_public_key(curve, key)` and
/// `verify(curve, key, digest, der)` (curve 0 = P-256, 1 = P-384).
#[wasm_bindgen]
pub fn set_signature_module(
    public_key: Function,
    sign: Function,
    check_public_key: Function,
    verify: Function,
) {
    MODULE.with(|m| {
        *m.borrow_mut() = Some(Module {
            public_key,
            sign,
            check_public_key,
            verify,
        })
    });
}

/// Whether [`set_signature_module`] was called.
#[wasm_bindgen]
pub fn has_signature_module() -> bool {
    MODULE.with(|m| m.borrow().is_some())
}

fn u8a(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// Curve number for the module, scalar length, full DER signature length.
fn params(c: Curve) -> Result<(u8, usize, usize)> {
    match c {
        Curve::P256 => Ok((0, 32, SIG_LEN_P256)),
        Curve::P384 => Ok((1, 48, SIG_LEN_P384)),
        _ => Err(Error::Crypto("unsupported curve")),
    }
}

fn curve_no(c: Curve) -> JsValue {
    JsValue::from(params(c).map(|p| p.0).unwrap_or(u8::MAX))
}

/// Call one of the registered functions.
fn call(pick: fn(&Module) -> &Function, args: &[JsValue]) -> Result<JsValue> {
    MODULE.with(|m| {
        let m = m.borrow();
        let m = m
            .as_ref()
            .ok_or(Error::InvalidState("the signature module is not loaded"))?;
        let args: js_sys::Array = args.iter().collect();
        pick(m)
            .apply(&JsValue::UNDEFINED, &args)
            .map_err(|_| Error::Crypto("ECDSA failed"))
    })
}

fn bytes(v: JsValue) -> Result<Vec<u8>> {
    v.dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| Error::Crypto("ECDSA failed"))
}

enum Hash {
    Sha256(Sha256),
    Sha384(Sha384),
    /// A host hash object, by id.
    Host(f64),
    Done,
}

impl Hash {
    fn new(c: Curve) -> Self {
        let bits = if c == Curve::P256 { 256 } else { 384 };
        if let Some(id) = host(|h| &h.create, &[bits.into()]).and_then(|v| v.as_f64()) {
            return Hash::Host(id);
        }
        if bits == 256 {
            Hash::Sha256(Sha256::new())
        } else {
            Hash::Sha384(Sha384::new())
        }
    }
    fn update(&mut self, d: &[u8]) {
        match self {
            Hash::Sha256(h) => h.update(d),
            Hash::Sha384(h) => h.update(d),
            Hash::Host(id) => {
                if host(|h| &h.update, &[(*id).into(), view(d)]).is_none() {
                    // The host hash failed: the digest must not verify or sign anything.
                    *self = Hash::Done;
                }
            }
            Hash::Done => {}
        }
    }
    fn finish(mut self) -> Result<Vec<u8>> {
        match &mut self {
            Hash::Sha256(h) => Ok(h.finalize_reset().to_vec()),
            Hash::Sha384(h) => Ok(h.finalize_reset().to_vec()),
            Hash::Host(id) => {
                let id = *id;
                // `finish` releases the host's object: no `discard` on drop.
                std::mem::forget(std::mem::replace(&mut self, Hash::Done));
                bytes(host(|h| &h.finish, &[id.into()]).ok_or(Error::Crypto("hash failed"))?)
            }
            Hash::Done => Err(Error::Crypto("hash failed")),
        }
    }
}

impl Drop for Hash {
    fn drop(&mut self) {
        if let Hash::Host(id) = self {
            host(|h| &h.discard, &[(*id).into()]);
        }
    }
}

/// The core's provider (or the seeded one) with ECDSA from the second module.
pub(crate) struct Bridge(pub(crate) Arc<dyn CryptoProvider>);

impl Bridge {
    pub(crate) fn wrap(inner: Arc<dyn CryptoProvider>) -> Arc<dyn CryptoProvider> {
        Arc::new(Bridge(inner))
    }
}

struct BridgeSigner {
    curve: Curve,
    secret: SecretBytes,
    public_key: Vec<u8>,
    hash: Hash,
    provider: Arc<dyn CryptoProvider>,
}

impl Signer for BridgeSigner {
    fn update(&mut self, data: &[u8]) {
        self.hash.update(data)
    }
    fn public_key(&self) -> Vec<u8> {
        self.public_key.clone()
    }
    /// Fresh entropy per try until the DER signature has its largest length,
    /// as the core's signer does, so that message lengths are exact.
    fn sign(self: Box<Self>) -> Result<Vec<u8>> {
        let digest = u8a(&self.hash.finish()?);
        let want = params(self.curve)?.2;
        let secret = u8a(self.secret.expose());
        let mut entropy = [0u8; 48];
        let mut result = Err(Error::Crypto(
            "could not produce a full-length ECDSA signature",
        ));
        for _ in 0..256 {
            self.provider.fill_random(&mut entropy)?;
            let der = bytes(call(
                |m| &m.sign,
                &[
                    curve_no(self.curve),
                    secret.clone(),
                    digest.clone(),
                    u8a(&entropy),
                ],
            )?)?;
            if der.len() == want {
                result = Ok(der);
                break;
            }
        }
        secret
            .unchecked_ref::<Uint8Array>()
            .fill(0, 0, self.secret.len() as u32);
        result
    }
}

struct BridgeVerifier {
    curve: Curve,
    public_key: Vec<u8>,
    hash: Hash,
}

impl Verifier for BridgeVerifier {
    fn update(&mut self, data: &[u8]) {
        self.hash.update(data)
    }
    fn verify(self: Box<Self>, der: &[u8]) -> Result<()> {
        let digest = self.hash.finish()?;
        let ok = call(
            |m| &m.verify,
            &[
                curve_no(self.curve),
                u8a(&self.public_key),
                u8a(&digest),
                u8a(der),
            ],
        )?;
        if ok.is_truthy() {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// SEC1 shape of a public key: compressed or uncompressed, right length.
fn well_formed(curve: Curve, pk: &[u8]) -> bool {
    let Ok((_, n, _)) = params(curve) else {
        return false;
    };
    matches!((pk.first(), pk.len()), (Some(2 | 3), l) if l == n + 1)
        || matches!((pk.first(), pk.len()), (Some(4), l) if l == 2 * n + 1)
}

impl CryptoProvider for Bridge {
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>> {
        self.0.aead_key(key)
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        ikm: &[u8],
        salt: Option<&[u8]>,
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<()> {
        self.0.hkdf(hash, ikm, salt, info, okm)
    }
    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        self.0.fill_random(buf)
    }
    /// A private scalar from this provider's randomness (so the seeded
    /// provider gives the same key every time), retried until valid.
    fn signer(&self, curve: Curve) -> Result<Box<dyn Signer>> {
        let n = params(curve)?.1;
        for _ in 0..16 {
            let mut secret = SecretBytes::zeroed(n);
            self.0.fill_random(secret.expose_mut())?;
            let s = u8a(secret.expose());
            let pk = call(|m| &m.public_key, &[curve_no(curve), s.clone()]);
            s.unchecked_ref::<Uint8Array>().fill(0, 0, n as u32);
            if let Ok(pk) = pk {
                return Ok(Box::new(BridgeSigner {
                    curve,
                    secret,
                    public_key: bytes(pk)?,
                    hash: Hash::new(curve),
                    provider: self.0.clone(),
                }));
            }
            if !has_signature_module() {
                return Err(Error::InvalidState("the signature module is not loaded"));
            }
        }
        Err(Error::Crypto("no valid signing key"))
    }
    /// The key is checked on the curve now if the module is loaded (it is,
    /// once JS has seen the header), else its shape now and the point when
    /// the signature is verified.
    fn verifier(&self, curve: Curve, public_key: &[u8]) -> Result<Box<dyn Verifier>> {
        params(curve)?;
        let ok = if has_signature_module() {
            call(|m| &m.check_public_key, &[curve_no(curve), u8a(public_key)])?.is_truthy()
        } else {
            well_formed(curve, public_key)
        };
        if !ok {
            return Err(Error::Malformed("signature public key"));
        }
        Ok(Box::new(BridgeVerifier {
            curve,
            public_key: public_key.to_vec(),
            hash: Hash::new(curve),
        }))
    }
}
