//! Keyrings: core keyrings behind a shared handle, and JS objects with
//! `onEncrypt`/`onDecrypt` methods as core keyrings.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use kms_envelope_core::keyring::{BoxFuture, EdkShape};
use kms_envelope_core::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use kms_envelope_core::suite::AlgorithmSuite;
use kms_envelope_core::{
    EncryptionContext, Error, Keyring, MultiKeyring, RawAesKeyring, Result, SecretBytes,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::to_js;

/// A keyring handle (shared: multi-keyrings and messages may hold it too).
#[wasm_bindgen]
pub struct WasmKeyring {
    pub(crate) inner: Rc<dyn Keyring>,
}

struct Shared(Rc<dyn Keyring>);

impl Keyring for Shared {
    fn on_encrypt<'a>(
        &'a self,
        m: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        self.0.on_encrypt(m)
    }
    fn on_decrypt<'a>(
        &'a self,
        m: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        self.0.on_decrypt(m, edks)
    }
    fn encrypted_data_key_shapes(&self, suite: AlgorithmSuite) -> Option<Vec<EdkShape>> {
        self.0.encrypted_data_key_shapes(suite)
    }
}

#[wasm_bindgen]
impl WasmKeyring {
    /// A raw AES keyring over a 16-, 24- or 32-byte key.
    pub fn raw_aes(namespace: &str, name: &str, key: &[u8]) -> Result<WasmKeyring, JsValue> {
        let k = RawAesKeyring::new(namespace, name, SecretBytes::from_slice(key)).map_err(to_js)?;
        Ok(Self { inner: Rc::new(k) })
    }

    /// A multi-keyring; the handles are consumed (pass clones).
    pub fn multi(
        generator: Option<WasmKeyring>,
        children: Vec<WasmKeyring>,
    ) -> Result<WasmKeyring, JsValue> {
        let boxed = |k: WasmKeyring| Box::new(Shared(k.inner)) as Box<dyn Keyring>;
        let k = MultiKeyring::new(
            generator.map(boxed),
            children.into_iter().map(boxed).collect(),
        )
        .map_err(to_js)?;
        Ok(Self { inner: Rc::new(k) })
    }

    /// A keyring implemented by a JS object with `onEncrypt(materials)` and
    /// `onDecrypt(materials, encryptedDataKeys)` methods (sync or async).
    pub fn from_js(object: Object) -> WasmKeyring {
        Self {
            inner: Rc::new(JsKeyring(object)),
        }
    }

    /// Another handle to the same keyring.
    pub fn clone_handle(&self) -> WasmKeyring {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct JsKeyring(Object);

fn kerr(what: &str, e: JsValue) -> Error {
    let msg = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "failed".into());
    Error::Keyring(format!("{what}: {msg}"))
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

fn ec_object(ec: &EncryptionContext) -> Object {
    let o = Object::new();
    for (k, v) in ec.iter() {
        set(&o, k, &v.into());
    }
    o
}

fn edk_object(e: &EncryptedDataKey) -> Object {
    let o = Object::new();
    set(&o, "providerId", &e.provider_id_str().into());
    set(
        &o,
        "providerInfo",
        &Uint8Array::from(&e.provider_info[..]).into(),
    );
    set(
        &o,
        "ciphertext",
        &Uint8Array::from(&e.ciphertext[..]).into(),
    );
    o
}

fn bytes(v: &JsValue, what: &'static str) -> Result<Vec<u8>> {
    v.dyn_ref::<Uint8Array>()
        .map(|a| a.to_vec())
        .ok_or_else(|| Error::Keyring(format!("{what} must be a Uint8Array")))
}

fn edk_from(v: &JsValue) -> Result<EncryptedDataKey> {
    let id = get(v, "providerId");
    let provider_id = match id.as_string() {
        Some(s) => s.into_bytes(),
        None => bytes(&id, "providerId")?,
    };
    Ok(EncryptedDataKey {
        provider_id,
        provider_info: bytes(&get(v, "providerInfo"), "providerInfo")?,
        ciphertext: bytes(&get(v, "ciphertext"), "ciphertext")?,
    })
}

fn data_key(v: &JsValue) -> Result<Option<SecretBytes>> {
    let k = get(v, "plaintextDataKey");
    if k.is_null() || k.is_undefined() {
        return Ok(None);
    }
    Ok(Some(SecretBytes::new(bytes(&k, "plaintextDataKey")?)))
}

impl JsKeyring {
    async fn call(&self, method: &str, args: &Array) -> Result<JsValue> {
        let f: Function = get(&self.0, method)
            .dyn_into()
            .map_err(|_| Error::Keyring(format!("the keyring has no {method} method")))?;
        let r = f.apply(&self.0, args).map_err(|e| kerr(method, e))?;
        JsFuture::from(Promise::resolve(&r))
            .await
            .map_err(|e| kerr(method, e))
    }
}

impl Keyring for JsKeyring {
    /// From an optional `encryptedDataKeyShapes(suite)` method returning
    /// `[[providerIdLength, providerInfoLength, ciphertextLength], ...]`.
    fn encrypted_data_key_shapes(&self, suite: AlgorithmSuite) -> Option<Vec<EdkShape>> {
        let f: Function = get(&self.0, "encryptedDataKeyShapes").dyn_into().ok()?;
        let r = f.call1(&self.0, &suite.id().into()).ok()?;
        if !Array::is_array(&r) {
            return None;
        }
        let n = |v: &JsValue, i: u32| {
            Reflect::get_u32(v, i)
                .ok()?
                .as_f64()
                .filter(|x| x.fract() == 0.0 && (0.0..=65535.0).contains(x))
                .map(|x| x as usize)
        };
        Array::from(&r)
            .iter()
            .map(|s| {
                Some(EdkShape {
                    provider_id: n(&s, 0)?,
                    provider_info: n(&s, 1)?,
                    ciphertext: n(&s, 2)?,
                })
            })
            .collect()
    }

    fn on_encrypt<'a>(
        &'a self,
        mut m: EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            let o = Object::new();
            set(&o, "suite", &m.suite.id().into());
            set(
                &o,
                "encryptionContext",
                &ec_object(&m.encryption_context).into(),
            );
            if let Some(k) = &m.plaintext_data_key {
                set(&o, "plaintextDataKey", &Uint8Array::from(k.expose()).into());
            }
            let edks: Array = m.encrypted_data_keys.iter().map(edk_object).collect();
            set(&o, "encryptedDataKeys", &edks.into());
            let r = self.call("onEncrypt", &Array::of1(&o)).await?;
            if let Some(k) = data_key(&r)? {
                if let Some(old) = &m.plaintext_data_key {
                    if old.expose() != k.expose() {
                        return Err(Error::Keyring("onEncrypt replaced the data key".into()));
                    }
                }
                m.plaintext_data_key = Some(k);
            }
            let list = get(&r, "encryptedDataKeys");
            if !Array::is_array(&list) {
                return Err(Error::Keyring(
                    "onEncrypt must return materials with encryptedDataKeys".into(),
                ));
            }
            let list: Array = list.unchecked_into();
            let edks = list
                .iter()
                .map(|v| edk_from(&v))
                .collect::<Result<Vec<_>>>()?;
            if !edks.starts_with(&m.encrypted_data_keys) {
                return Err(Error::Keyring(
                    "onEncrypt removed encrypted data keys".into(),
                ));
            }
            m.encrypted_data_keys = edks;
            Ok(m)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        mut m: DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            if m.plaintext_data_key.is_some() {
                return Ok(m);
            }
            let o = Object::new();
            set(&o, "suite", &m.suite.id().into());
            set(
                &o,
                "encryptionContext",
                &ec_object(&m.encryption_context).into(),
            );
            let list: Array = edks.iter().map(edk_object).collect();
            let r = self.call("onDecrypt", &Array::of2(&o, &list)).await?;
            if r.is_null() || r.is_undefined() {
                return Ok(m);
            }
            if let Some(k) = data_key(&r)? {
                if k.len() != m.suite.key_len() {
                    return Err(Error::Keyring(format!(
                        "onDecrypt returned a {}-byte data key; the suite needs {}",
                        k.len(),
                        m.suite.key_len()
                    )));
                }
                m.plaintext_data_key = Some(k);
            }
            Ok(m)
        })
    }
}
