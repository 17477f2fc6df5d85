// kms-envelope for Node 20+: the wasm is read from the package directory, and each frame's
// AES-GCM runs in node:crypto (the 'node' backend, the default here).
import { readFile } from 'node:fs/promises';
import { createCipheriv, createDecipheriv, createHash, createSecretKey } from 'node:crypto';
import wasmInit, * as w from './wasm/kms_envelope.js';
import sigInit, * as sig from './wasm/kms_envelope_sig.js';
import { _setInit, _setNodeAead, _setSigInit } from './util.js';

let loading = null;

/** Load the wasm (optional: every async function loads it on first use). */
export default function init() {
  if (!loading) {
    loading = readFile(new URL('./wasm/kms_envelope_bg.wasm', import.meta.url))
      .then((bytes) => wasmInit({ module_or_path: bytes }))
      .then(hostHash);
  }
  return loading.then(() => undefined);
}

const u8 = (b) => new Uint8Array(b.buffer, b.byteOffset, b.length);

// Signed suites hash every message byte: node:crypto's SHA-384 is faster than the wasm's.
// The wasm hands each piece as a view of its memory, read at once (no copy).
const hashes = new Map();
let nextHash = 1;
function hostHash() {
  w.set_host_hash(
    (bits) => {
      const id = nextHash++;
      hashes.set(id, createHash(bits === 256 ? 'sha256' : 'sha384'));
      return id;
    },
    (id, bytes) => {
      hashes.get(id).update(bytes);
    },
    (id) => {
      const h = hashes.get(id);
      hashes.delete(id);
      return u8(h.digest());
    },
    (id) => {
      hashes.delete(id);
    },
  );
}

const CIPHERS = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' };
const TAG = { authTagLength: 16 };

// One cipher object per frame (node:crypto has no reset with a new IV); the key is a
// KeyObject, so the raw bytes live in OpenSSL's memory, not in a JS buffer.
_setNodeAead({
  importKey(raw) {
    const name = CIPHERS[raw.length];
    if (!name) throw new RangeError('bad content key length');
    return { name, key: createSecretKey(raw) };
  },
  seal(k, iv, aad, plain) {
    const c = createCipheriv(k.name, k.key, iv, TAG);
    c.setAAD(aad);
    const out = new Uint8Array(plain.length + 16);
    out.set(c.update(plain));
    c.final();
    out.set(c.getAuthTag(), plain.length);
    return out;
  },
  open(k, iv, aad, body) {
    const n = body.length - 16;
    if (n < 0) throw new Error('short frame');
    const d = createDecipheriv(k.name, k.key, iv, TAG);
    d.setAAD(aad);
    d.setAuthTag(body.subarray(n));
    const pt = d.update(body.subarray(0, n));
    d.final(); // throws if the tag does not verify: `pt` is then dropped unreleased
    return u8(pt);
  },
});
_setInit(() => init());
_setSigInit(async () => {
  const bytes = await readFile(new URL('./wasm/kms_envelope_sig_bg.wasm', import.meta.url));
  await sigInit({ module_or_path: bytes });
  return sig;
});
await init();

export * from './core.js';
export * from './kms.js';
