//! The encryptor handle.

use std::sync::Arc;

use js_sys::Promise;
use kms_envelope_core::crypto::default_provider;
use kms_envelope_core::detached::DetachedEncryptor;
use kms_envelope_core::seeded::SeededProvider;
use kms_envelope_core::suite::AlgorithmSuite;
use kms_envelope_core::EncryptOptions;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::keyring::WasmKeyring;
use crate::sig::Bridge;
use crate::{context, policy, to_js};

/// Encrypts one message; the frame AEAD runs in JS (WebCrypto) or here.
#[wasm_bindgen]
pub struct WasmEncryptor {
    inner: DetachedEncryptor,
    spec: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn options(
    suite: Option<u16>,
    frame_length: u32,
    ec: Vec<String>,
    required_keys: Vec<String>,
    commitment_policy: Option<String>,
    max_encrypted_data_keys: Option<u16>,
    test_seed: Option<Vec<u8>>,
) -> Result<EncryptOptions, JsValue> {
    let mut o = EncryptOptions::default();
    o.suite = suite
        .map(AlgorithmSuite::from_id)
        .transpose()
        .map_err(to_js)?;
    o.frame_length = frame_length;
    o.encryption_context = context(ec)?;
    o.required_encryption_context_keys = required_keys;
    o.commitment_policy = policy(commitment_policy)?;
    o.max_encrypted_data_keys = max_encrypted_data_keys;
    o.provider = Some(Bridge::wrap(match test_seed {
        Some(s) => Arc::new(SeededProvider::new(default_provider(), &s)),
        None => default_provider(),
    }));
    Ok(o)
}

/// Start a message: resolves to a [`WasmEncryptor`] once the keyring has
/// produced the data key. `test_seed` makes the randomness deterministic
/// (tests only).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn encryptor_new(
    keyring: &WasmKeyring,
    suite: Option<u16>,
    frame_length: u32,
    ec: Vec<String>,
    required_keys: Vec<String>,
    commitment_policy: Option<String>,
    max_encrypted_data_keys: Option<u16>,
    test_seed: Option<Vec<u8>>,
) -> Result<Promise, JsValue> {
    let o = options(
        suite,
        frame_length,
        ec,
        required_keys,
        commitment_policy,
        max_encrypted_data_keys,
        test_seed,
    )?;
    let k = keyring.inner.clone();
    Ok(future_to_promise(async move {
        let inner = DetachedEncryptor::new(&*k, &o).await.map_err(to_js)?;
        Ok(WasmEncryptor {
            inner,
            spec: Vec::with_capacity(256),
        }
        .into())
    }))
}

/// The message length for `plaintext_len` bytes, before any key exists;
/// `undefined` if the keyring cannot tell its encrypted data key sizes.
#[wasm_bindgen]
pub fn ciphertext_length(
    plaintext_len: f64,
    keyring: &WasmKeyring,
    suite: Option<u16>,
    frame_length: u32,
    ec: Vec<String>,
    required_keys: Vec<String>,
    commitment_policy: Option<String>,
) -> Result<Option<f64>, JsValue> {
    let o = options(
        suite,
        frame_length,
        ec,
        required_keys,
        commitment_policy,
        None,
        None,
    )?;
    let n = kms_envelope_core::ciphertext_length(plaintext_len as u64, &o, &*keyring.inner)
        .map_err(to_js)?;
    Ok(n.map(|n| n as f64))
}

#[wasm_bindgen]
impl WasmEncryptor {
    /// The header bytes.
    pub fn header(&self) -> Vec<u8> {
        self.inner.header().to_vec()
    }

    /// The derived content key (import it, then zero this copy).
    pub fn content_key(&self) -> Vec<u8> {
        self.inner.content_key().expose().to_vec()
    }

    /// The suite id.
    pub fn suite(&self) -> u16 {
        self.inner.suite().id()
    }

    /// Whether frames must be passed back to `end_frame_signed`.
    pub fn is_signed(&self) -> bool {
        self.inner.suite().is_signed()
    }

    /// The whole message length for `plaintext_len` bytes (an upper bound
    /// for signed suites).
    pub fn ciphertext_length(&self, plaintext_len: f64) -> Result<f64, JsValue> {
        self.inner
            .ciphertext_length(plaintext_len as u64)
            .map(|n| n as f64)
            .ok_or_else(|| {
                to_js(kms_envelope_core::Error::InvalidArgument(
                    "too many frames".into(),
                ))
            })
    }

    /// The frame length.
    pub fn frame_length(&self) -> u32 {
        self.inner.frame_length()
    }

    /// Start a frame; returns `prefix length (1 byte) || prefix || IV (12) || AAD`.
    pub fn begin_frame(&mut self, len: u32, last: bool) -> Result<Vec<u8>, JsValue> {
        let s = self.inner.begin_frame(len as usize, last).map_err(to_js)?;
        self.spec.clear();
        self.spec.push(s.prefix.len() as u8);
        self.spec.extend_from_slice(&s.prefix);
        self.spec.extend_from_slice(&s.iv);
        self.spec.extend_from_slice(&s.aad);
        Ok(self.spec.clone())
    }

    /// Seal the current frame here (Rust backend): returns `ciphertext || tag`.
    pub fn seal_frame(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, JsValue> {
        let mut buf = Vec::with_capacity(plaintext.len() + 16);
        buf.extend_from_slice(plaintext);
        self.inner.seal_frame(&mut buf).map_err(to_js)?;
        Ok(buf)
    }

    /// The current frame was sealed elsewhere (unsigned suites).
    pub fn end_frame(&mut self) -> Result<(), JsValue> {
        self.inner.end_frame(None).map_err(to_js)
    }

    /// The current frame was sealed elsewhere: `ciphertext || tag` for the signature.
    pub fn end_frame_signed(&mut self, sealed: &[u8]) -> Result<(), JsValue> {
        self.inner.end_frame(Some(sealed)).map_err(to_js)
    }

    /// The footer (empty for unsigned suites).
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        self.inner.finish().map_err(to_js)
    }
}
