// kms-envelope: shared helpers, errors and keyrings.
//
import * as w from './wasm/kms_envelope.js';
import { webCryptoRawAes } from './rawaes.js';

let initFn = null;
let ready = null;

/** @internal The entry module sets how the wasm is loaded. */
export function _setInit(f) {
  initFn = f;
}

export async function ensure() {
  if (!ready) ready = Promise.resolve(initFn ? initFn() : undefined);
  await ready;
}

// ECDSA (P-256/P-384) lives in a second wasm module, loaded on the first signed message.
let sigInitFn = null;
let sigReady = null;
export const SIGNED_SUITES = [0x0214, 0x0346, 0x0378, 0x0578];

/** @internal The entry module sets how the signature module is loaded (resolves to its exports). */
export function _setSigInit(f) {
  sigInitFn = f;
}

/** Load the signature module once (retried after a failure). */
export async function ensureSig() {
  await ensure();
  if (!sigReady) {
    sigReady = (async () => {
      const m = await sigInitFn();
      w.set_signature_module(m.public_key, m.sign, m.check_public_key, m.verify);
    })();
    sigReady.catch(() => {
      sigReady = null;
    });
  }
  await sigReady;
}

const DISPOSE = Symbol.dispose ?? Symbol.for('Symbol.dispose');
const HANDLE = Symbol('kms-envelope handle');
export const SUITES = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578];
const POLICIES = ['require-encrypt-require-decrypt', 'require-encrypt-allow-decrypt', 'forbid-encrypt-allow-decrypt'];
export const DEFAULT_FRAME_LENGTH = 65536;
export const subtle = globalThis.crypto?.subtle;

/** An error of the format or of a keyring, with a stable `code`. */
export class KmsEnvelopeError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'KmsEnvelopeError';
    this.code = code;
  }
}

export function convert(e) {
  if (e instanceof KmsEnvelopeError) return e;
  if (e && e.name === 'KmsEnvelopeError' && typeof e.code === 'string') {
    return new KmsEnvelopeError(e.code, e.message);
  }
  return e;
}

export function isU8(v) {
  return v instanceof Uint8Array;
}

export function isBlob(v) {
  return typeof Blob !== 'undefined' && v instanceof Blob;
}

export function isStream(v) {
  return typeof ReadableStream !== 'undefined' && v instanceof ReadableStream;
}

function isCryptoKey(v) {
  return typeof CryptoKey !== 'undefined' && v instanceof CryptoKey;
}

export function ecPairs(ec, what = 'encryptionContext') {
  if (ec === undefined || ec === null) return [];
  if (typeof ec !== 'object' || Array.isArray(ec)) throw new TypeError(`${what} must be an object of strings`);
  const out = [];
  for (const [k, v] of Object.entries(ec)) {
    if (typeof v !== 'string') throw new TypeError(`${what}.${k} must be a string`);
    out.push(k, v);
  }
  return out;
}

export function ecObject(pairs) {
  const o = {};
  for (let i = 0; i < pairs.length; i += 2) o[pairs[i]] = pairs[i + 1];
  return o;
}

export function optInt(v, name, min, max) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer`);
  if (v < min || v > max) throw new RangeError(`${name} must be in ${min}..${max}`);
  return v;
}

// The frame AEADs. 'node' (node:crypto) is registered by the Node entry (node.js), so that
// the browser entry imports no Node built-in; 'rust' runs in the wasm.
let nodeAead = null;

/** @internal The Node entry registers its node:crypto AEAD. */
export function _setNodeAead(a) {
  nodeAead = a;
}

const webcryptoAead = {
  /** A non-extractable key, or null where WebCrypto lacks the size (AES-192 in Chromium). */
  async importKey(raw, usage) {
    try {
      return await subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, [usage]);
    } catch (e) {
      if (raw.length === 24) return null;
      throw e;
    }
  },
  async seal(key, iv, additionalData, plain) {
    return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData, tagLength: 128 }, key, plain));
  },
  /** `body` is ciphertext || tag; rejects if the tag does not verify. */
  async open(key, iv, additionalData, body) {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData, tagLength: 128 }, key, body));
  },
};

export function backendOf(opts) {
  const b = opts.backend ?? (nodeAead ? 'node' : subtle ? 'webcrypto' : 'rust');
  if (b !== 'webcrypto' && b !== 'rust' && b !== 'node') throw new TypeError("backend must be 'webcrypto', 'node' or 'rust'");
  if (b === 'webcrypto' && !subtle) throw new TypeError('WebCrypto is not available here; use backend: "rust"');
  if (b === 'node' && !nodeAead) throw new TypeError("backend 'node' needs the package's Node entry (node:crypto)");
  return b;
}

/** The frame AEAD of a backend other than 'rust'. */
export function aeadOf(backend) {
  return backend === 'node' ? nodeAead : webcryptoAead;
}

export function policyOf(opts) {
  const p = opts.commitmentPolicy;
  if (p === undefined) return undefined;
  if (!POLICIES.includes(p)) throw new TypeError(`commitmentPolicy must be one of ${POLICIES.join(', ')}`);
  return p;
}

export function signalOf(opts) {
  const s = opts.signal;
  if (s !== undefined && !(typeof AbortSignal !== 'undefined' && s instanceof AbortSignal)) {
    throw new TypeError('signal must be an AbortSignal');
  }
  return s;
}

export function checkOptions(opts, what) {
  if (!opts || typeof opts !== 'object') throw new TypeError(`${what} needs an options object`);
  if (!opts.keyring) throw new TypeError(`${what} needs a keyring`);
}

// ---- keyrings ----------------------------------------------------------------

class KeyringBase {
  get [HANDLE]() {
    if (!this._h) throw new TypeError('the keyring was freed');
    return this._h;
  }
  /** Release the wasm memory of this keyring (and zero its key). */
  free() {
    this._h?.free();
    this._h = null;
  }
  [DISPOSE]() {
    this.free();
  }
}

/** The raw AES keyring, byte-compatible with the official SDKs. */
export class RawAesKeyring extends KeyringBase {
  /**
   * @param {{keyNamespace: string, keyName: string, key: Uint8Array | CryptoKey}} o
   */
  static async create(o) {
    if (!o || typeof o !== 'object') throw new TypeError('RawAesKeyring.create needs an options object');
    const { keyNamespace, keyName, key } = o;
    if (typeof keyNamespace !== 'string' || typeof keyName !== 'string') {
      throw new TypeError('keyNamespace and keyName must be strings');
    }
    let bytes;
    let exported = false;
    if (isU8(key)) {
      bytes = key;
    } else if (isCryptoKey(key)) {
      if (key.algorithm?.name !== 'AES-GCM') throw new TypeError('the CryptoKey must be an AES-GCM key');
      if (!key.extractable) return RawAesKeyring.#fromCryptoKey(keyNamespace, keyName, key);
      bytes = new Uint8Array(await subtle.exportKey('raw', key));
      exported = true;
    } else {
      throw new TypeError('key must be a Uint8Array or an AES-GCM CryptoKey');
    }
    if (![16, 24, 32].includes(bytes.length)) throw new RangeError('a raw AES key must be 16, 24 or 32 bytes');
    await ensure();
    const k = new RawAesKeyring();
    try {
      k._h = w.WasmKeyring.raw_aes(keyNamespace, keyName, bytes);
    } catch (e) {
      throw convert(e);
    } finally {
      if (exported) bytes.fill(0);
    }
    return k;
  }

  /** A non-extractable key stays in WebCrypto: it wraps and unwraps the data keys itself. */
  static async #fromCryptoKey(keyNamespace, keyName, key) {
    if (keyNamespace === 'aws-kms') {
      throw new KmsEnvelopeError('INVALID_ARGUMENT', 'the key namespace "aws-kms" is reserved');
    }
    if (![128, 192, 256].includes(key.algorithm.length)) throw new RangeError('a raw AES key must be 16, 24 or 32 bytes');
    if (!key.usages.includes('encrypt') && !key.usages.includes('decrypt')) {
      throw new TypeError("the CryptoKey needs the 'encrypt' and/or 'decrypt' usage");
    }
    await ensure();
    const k = new RawAesKeyring();
    k._h = w.WasmKeyring.from_js(webCryptoRawAes(subtle, keyNamespace, keyName, key));
    return k;
  }
}

/** A generator keyring plus children: all wrap on encrypt; any may decrypt. */
export class MultiKeyring extends KeyringBase {
  /** @param {{generator?: object, children?: object[]}} o */
  static async create(o) {
    if (!o || typeof o !== 'object') throw new TypeError('MultiKeyring.create needs an options object');
    const children = o.children ?? [];
    if (!Array.isArray(children)) throw new TypeError('children must be an array of keyrings');
    await ensure();
    const temps = [];
    const handle = (k) => {
      const t = keyringHandle(k);
      temps.push(t);
      return t.h.clone_handle();
    };
    try {
      const k = new MultiKeyring();
      k._h = w.WasmKeyring.multi(o.generator ? handle(o.generator) : undefined, children.map(handle));
      return k;
    } catch (e) {
      throw convert(e);
    } finally {
      for (const t of temps) t.release();
    }
  }
}

export function keyringHandle(k) {
  if (k instanceof KeyringBase) return { h: k[HANDLE], release() {} };
  if (k && typeof k === 'object' && (typeof k.onEncrypt === 'function' || typeof k.onDecrypt === 'function')) {
    // The wasm boundary turns a keyring's exception into KEYRING_ERROR; a KmsEnvelopeError
    // thrown by a JS keyring (KMS_ACCESS_DENIED, ...) is kept here and rethrown as is.
    const t = { h: null, error: null, release: () => t.h.free() };
    const wrap = (name) => async (...args) => {
      try {
        return await k[name](...args);
      } catch (e) {
        if (!t.error && e instanceof KmsEnvelopeError) t.error = e;
        throw e;
      }
    };
    const o = {};
    if (typeof k.onEncrypt === 'function') o.onEncrypt = wrap('onEncrypt');
    if (typeof k.onDecrypt === 'function') o.onDecrypt = wrap('onDecrypt');
    t.h = w.WasmKeyring.from_js(o);
    return t;
  }
  throw new TypeError('keyring must be a RawAesKeyring, a MultiKeyring or an object with onEncrypt/onDecrypt');
}

// ---- helpers ----------------------------------------------------------------

/**
 * Import a derived content key for `aead` (non-extractable) and zero the
 * copy; null where the backend lacks the key size (AES-192 in Chromium).
 */
export async function importContentKey(aead, raw, usage) {
  try {
    return await aead.importKey(raw, usage);
  } finally {
    raw.fill(0);
  }
}

export function throwIfAborted(signal) {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}

export async function collect(stream, signal) {
  const parts = [];
  let n = 0;
  const r = stream.getReader();
  const onAbort = () => r.cancel(signal.reason).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  throwIfAborted(signal);
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}
