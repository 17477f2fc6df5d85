//! The wasm-bindgen boundary of kms-envelope.
//!
//! This crate only converts between JavaScript values and the types of
//! [`kms_envelope_core`]; the message format, keyrings and streaming live there.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use wasm_bindgen::prelude::*;

/// The version of the kms-envelope package.
#[wasm_bindgen]
pub fn version() -> String {
    kms_envelope_core::VERSION.to_string()
}
