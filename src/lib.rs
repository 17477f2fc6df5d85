//! The wasm-bindgen boundary of kms-envelope.
//!
//! This crate only converts between JavaScript values and the types of
//! [`kms_envelope_core`]; the message format, keyrings and streaming live
//! there (the detached machines of [`kms_envelope_core::detached`] let the
//! JavaScript side run each frame's AES-GCM with WebCrypto). The
//! hand-written wrapper in `js/` is the public API.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use kms_envelope_core::{CommitmentPolicy, EncryptionContext, Error};
use wasm_bindgen::prelude::*;

mod dec;
mod enc;
mod keyring;
mod rewrap;
mod sig;

pub use dec::{WasmDecryptor, WasmMaterials};
pub use enc::{ciphertext_length, encryptor_new, WasmEncryptor};
pub use keyring::WasmKeyring;
pub use rewrap::{header_length, rewrap_header};
pub use sig::{has_signature_module, set_host_hash, set_signature_module};

/// The version of the kms-envelope package.
#[wasm_bindgen]
pub fn version() -> String {
    kms_envelope_core::VERSION.to_string()
}

/// A core error as a JS `Error` with `name` `KmsEnvelopeError` and the
/// stable `code`; the wrapper turns it into a `KmsEnvelopeError`.
pub(crate) fn to_js(e: Error) -> JsValue {
    let o = js_sys::Error::new(&e.to_string());
    o.set_name("KmsEnvelopeError");
    let _ = js_sys::Reflect::set(&o, &"code".into(), &e.code().into());
    o.into()
}

/// A flat `[key, value, key, value, ...]` list as an encryption context.
pub(crate) fn context(pairs: Vec<String>) -> Result<EncryptionContext, JsValue> {
    if pairs.len() % 2 != 0 {
        return Err(to_js(Error::InvalidArgument(
            "odd encryption context list".into(),
        )));
    }
    let mut ec = EncryptionContext::new();
    let mut it = pairs.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        ec.insert(k, v);
    }
    Ok(ec)
}

/// An encryption context as a flat `[key, value, ...]` list.
pub(crate) fn pairs(ec: &EncryptionContext) -> Vec<String> {
    ec.iter()
        .flat_map(|(k, v)| [k.to_string(), v.to_string()])
        .collect()
}

pub(crate) fn policy(name: Option<String>) -> Result<CommitmentPolicy, JsValue> {
    match name {
        None => Ok(CommitmentPolicy::default()),
        Some(n) => CommitmentPolicy::from_name(&n).ok_or_else(|| {
            to_js(Error::InvalidArgument(format!(
                "unknown commitment policy {n:?}"
            )))
        }),
    }
}
