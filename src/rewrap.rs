//! Header rewrite (share a message without moving its body): conversions only;
//! the work is [`kms_envelope_core::rewrap`].

use js_sys::{Promise, Uint8Array};
use kms_envelope_core::rewrap::{self, RewrapOptions};
use kms_envelope_core::Limits;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::keyring::WasmKeyring;
use crate::{context, policy, to_js};

fn limits(max_header_size: Option<u32>) -> Limits {
    let mut l = Limits::default();
    if let Some(m) = max_header_size {
        l.max_header_size = m as usize;
    }
    l
}

/// The length of the header at the front of `prefix`, or `undefined` if more
/// bytes are needed.
#[wasm_bindgen]
pub fn header_length(prefix: &[u8], max_header_size: Option<u32>) -> Result<Option<u32>, JsValue> {
    rewrap::header_length(prefix, &limits(max_header_size))
        .map(|n| n.map(|n| n as u32))
        .map_err(to_js)
}

/// Verify `header` with `keyring` and resolve to a new header (a
/// `Uint8Array`) whose encrypted data keys `new_keyring` made of the same data
/// key, with the new encryption context `new_ec`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn rewrap_header(
    header: Vec<u8>,
    keyring: &WasmKeyring,
    ec: Vec<String>,
    new_keyring: &WasmKeyring,
    new_ec: Vec<String>,
    commitment_policy: Option<String>,
    max_encrypted_data_keys: Option<u16>,
    max_header_size: Option<u32>,
) -> Result<Promise, JsValue> {
    let mut o = RewrapOptions::default();
    o.encryption_context = context(ec)?;
    o.new_encryption_context = context(new_ec)?;
    o.commitment_policy = policy(commitment_policy)?;
    o.max_encrypted_data_keys = max_encrypted_data_keys;
    o.limits = limits(max_header_size);
    let (k, nk) = (keyring.inner.clone(), new_keyring.inner.clone());
    Ok(future_to_promise(async move {
        let out = rewrap::rewrap_header(&header, &*k, &*nk, &o)
            .await
            .map_err(to_js)?;
        Ok(Uint8Array::from(&out[..]).into())
    }))
}
