//! The decryptor handle.

use js_sys::Promise;
use kms_envelope_core::detached::{key_id, DetachedDecryptor, UnitKind};
use kms_envelope_core::materials::DecryptionMaterials;
use kms_envelope_core::{DecryptOptions, Error, Limits};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::keyring::WasmKeyring;
use crate::sig::Bridge;
use crate::{context, pairs, policy, to_js};
use kms_envelope_core::crypto::default_provider;

/// Decrypts one message; the frame AEAD runs in JS (WebCrypto) or here.
#[wasm_bindgen]
pub struct WasmDecryptor {
    inner: DetachedDecryptor,
}

/// Decryption materials a keyring returned (opaque: the data key stays here).
#[wasm_bindgen]
pub struct WasmMaterials {
    inner: DecryptionMaterials,
}

#[wasm_bindgen]
impl WasmDecryptor {
    /// A decryptor. `ec` is the reproduced encryption context.
    #[wasm_bindgen(constructor)]
    pub fn new(
        ec: Vec<String>,
        commitment_policy: Option<String>,
        unsigned_only: bool,
        max_encrypted_data_keys: Option<u16>,
        max_frame_length: Option<f64>,
        max_body_size: Option<f64>,
    ) -> Result<WasmDecryptor, JsValue> {
        let mut o = DecryptOptions::default();
        o.encryption_context = context(ec)?;
        o.commitment_policy = policy(commitment_policy)?;
        o.unsigned_only = unsigned_only;
        o.provider = Some(Bridge::wrap(default_provider()));
        let mut l = Limits::default();
        l.max_encrypted_data_keys = max_encrypted_data_keys;
        if let Some(m) = max_frame_length {
            l.max_frame_length = m as u64;
        }
        l.max_body_size = max_body_size.map(|m| m as u64);
        o.limits = l;
        Ok(Self {
            inner: DetachedDecryptor::new(&o),
        })
    }

    /// Push the start of the message: `undefined` if all was taken and more
    /// is needed, else how many bytes the header took.
    pub fn push_header(&mut self, data: &[u8]) -> Result<Option<u32>, JsValue> {
        let n = self.inner.push_header(data).map_err(to_js)?;
        Ok(n.map(|n| n as u32))
    }

    /// Ask `keyring` for the data key: resolves to [`WasmMaterials`].
    pub fn request_materials(&self, keyring: &WasmKeyring) -> Result<Promise, JsValue> {
        let (m, edks) = self
            .inner
            .materials_request()
            .ok_or_else(|| to_js(Error::InvalidState("materials were not requested")))?;
        let k = keyring.inner.clone();
        Ok(future_to_promise(async move {
            let m = k.on_decrypt(m, &edks).await.map_err(to_js)?;
            Ok(WasmMaterials { inner: m }.into())
        }))
    }

    /// Supply the materials: checks commitment and header authentication.
    pub fn supply_materials(&mut self, materials: WasmMaterials) -> Result<(), JsValue> {
        self.inner.supply_materials(materials.inner).map_err(to_js)
    }

    /// The content key, once the header is authenticated.
    pub fn content_key(&self) -> Result<Vec<u8>, JsValue> {
        self.inner
            .content_key()
            .map(|k| k.expose().to_vec())
            .ok_or_else(|| to_js(Error::InvalidState("no authenticated header")))
    }

    /// Whether each unit must be passed to `absorb`.
    pub fn is_signed(&self) -> bool {
        self.inner.is_signed()
    }

    /// The suite id, once the header is parsed.
    pub fn suite(&self) -> Option<u16> {
        self.inner.header().map(|h| h.suite.id())
    }

    /// The whole encryption context as `[key, value, ...]`.
    pub fn encryption_context(&self) -> Vec<String> {
        pairs(self.inner.encryption_context())
    }

    /// `provider id/key name` of each encrypted data key.
    pub fn key_ids(&self) -> Vec<String> {
        self.inner
            .header()
            .map(|h| h.encrypted_data_keys.iter().map(key_id).collect())
            .unwrap_or_default()
    }

    /// The next body unit from its first bytes: `[kind, total length,
    /// ciphertext offset, ciphertext length]` (kind 0 frame, 1 final frame,
    /// 2 non-framed, 3 footer), or `undefined` if more bytes are needed.
    pub fn next_unit(&mut self, head: &[u8]) -> Result<Option<Vec<f64>>, JsValue> {
        let u = self.inner.next_unit(head).map_err(to_js)?;
        Ok(u.map(|u| {
            let kind = match u.kind {
                UnitKind::Frame => 0.0,
                UnitKind::FinalFrame => 1.0,
                UnitKind::SingleBlock => 2.0,
                UnitKind::Footer => 3.0,
            };
            vec![
                kind,
                u.total_len as f64,
                u.ct_offset as f64,
                u.ct_len as f64,
            ]
        }))
    }

    /// `IV (12) || AAD` of the current unit.
    pub fn iv_aad(&self) -> Vec<u8> {
        let mut v = self.inner.iv().to_vec();
        v.extend_from_slice(self.inner.aad());
        v
    }

    /// Signed messages: feed the current unit's bytes to the signature hash.
    pub fn absorb(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.inner.absorb(bytes).map_err(to_js)
    }

    /// The current unit's tag verified.
    pub fn frame_ok(&mut self) -> Result<(), JsValue> {
        self.inner.frame_ok().map_err(to_js)
    }

    /// The current unit's tag did not verify: returns the error to throw.
    pub fn frame_failed(&mut self) -> JsValue {
        to_js(self.inner.frame_failed())
    }

    /// Open the whole current unit here (Rust backend); returns the plaintext.
    pub fn open_unit(&mut self, unit: &[u8]) -> Result<Vec<u8>, JsValue> {
        let mut out = Vec::with_capacity(unit.len());
        self.inner.open_unit(unit, &mut out).map_err(to_js)?;
        Ok(out)
    }

    /// Check the footer unit.
    pub fn verify_footer(&mut self, unit: &[u8]) -> Result<(), JsValue> {
        self.inner.verify_footer(unit).map_err(to_js)
    }

    /// Whether the whole message was read and verified.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// End of input.
    pub fn finish(&mut self) -> Result<(), JsValue> {
        self.inner.finish().map_err(to_js)
    }
}
