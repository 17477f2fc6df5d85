// The raw AES keyring over a non-extractable WebCrypto AES-GCM key: the data key is wrapped and
// unwrapped by WebCrypto, the key never enters the wasm. Same encrypted data keys as the core's
// RawAesKeyring and the official SDKs: provider id = key namespace; provider info = key name ||
// tag length in bits (u32 BE, 128) || IV length (u32 BE, 12) || IV; ciphertext = wrapped key || tag;
// AAD = the serialised encryption context (sorted by key bytes; empty context = no bytes).

const IV_LEN = 12;
const TAG_BITS = 128;
const enc = new TextEncoder();
const KEY_LEN = { 0x0014: 16, 0x0114: 16, 0x0214: 16, 0x0046: 24, 0x0146: 24, 0x0346: 24 }; // else 32

function cmpBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The ESDK serialisation of an encryption context object. */
export function serializeContext(ec) {
  const pairs = Object.entries(ec).map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  if (pairs.length === 0) return new Uint8Array(0);
  pairs.sort((x, y) => cmpBytes(x[0], y[0]));
  let n = 2;
  for (const [k, v] of pairs) n += 4 + k.length + v.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, pairs.length);
  let p = 2;
  for (const [k, v] of pairs) {
    for (const part of [k, v]) {
      dv.setUint16(p, part.length);
      out.set(part, p + 2);
      p += 2 + part.length;
    }
  }
  return out;
}

/**
 * A keyring object (onEncrypt/onDecrypt, as for custom keyrings) over a WebCrypto AES-GCM key.
 * `dataKeyLength(suite)` and the shape hook let ciphertextLength work as with raw key bytes.
 */
export function webCryptoRawAes(subtle, namespace, name, key) {
  const ns = enc.encode(namespace);
  const nm = enc.encode(name);
  const infoLen = nm.length + 8 + IV_LEN;
  const label = `raw AES key ${namespace}/${name}`;
  const keyLen = (suite) => KEY_LEN[suite] ?? 32;
  return {
    async onEncrypt(m) {
      const dataKey = m.plaintextDataKey ?? crypto.getRandomValues(new Uint8Array(keyLen(m.suite)));
      const iv = crypto.getRandomValues(new Uint8Array(IV_LEN));
      const additionalData = serializeContext(m.encryptionContext);
      const ciphertext = new Uint8Array(
        await subtle.encrypt({ name: 'AES-GCM', iv, additionalData, tagLength: TAG_BITS }, key, dataKey),
      );
      const providerInfo = new Uint8Array(infoLen);
      providerInfo.set(nm);
      const dv = new DataView(providerInfo.buffer);
      dv.setUint32(nm.length, TAG_BITS);
      dv.setUint32(nm.length + 4, IV_LEN);
      providerInfo.set(iv, nm.length + 8);
      return {
        ...m,
        plaintextDataKey: dataKey,
        encryptedDataKeys: [...m.encryptedDataKeys, { providerId: namespace, providerInfo, ciphertext }],
      };
    },
    async onDecrypt(m, edks) {
      const additionalData = serializeContext(m.encryptionContext);
      const want = keyLen(m.suite) + TAG_BITS / 8;
      let failed = false;
      for (const e of edks) {
        const id = typeof e.providerId === 'string' ? enc.encode(e.providerId) : e.providerId;
        const info = e.providerInfo;
        if (cmpBytes(id, ns) !== 0 || info.length !== infoLen || cmpBytes(info.subarray(0, nm.length), nm) !== 0) continue;
        const dv = new DataView(info.buffer, info.byteOffset, info.length);
        if (dv.getUint32(nm.length) !== TAG_BITS || dv.getUint32(nm.length + 4) !== IV_LEN) continue;
        if (e.ciphertext.length !== want) {
          failed = true;
          continue;
        }
        try {
          const iv = info.subarray(nm.length + 8);
          const dk = await subtle.decrypt({ name: 'AES-GCM', iv, additionalData, tagLength: TAG_BITS }, key, e.ciphertext);
          return { ...m, plaintextDataKey: new Uint8Array(dk) };
        } catch {
          failed = true;
        }
      }
      if (failed) throw new Error(`${label} could not unwrap its encrypted data key (wrong key or encryption context)`);
      return null;
    },
    /** Encrypted data key sizes per suite, for ciphertextLength. */
    encryptedDataKeyShapes(suite) {
      return [[ns.length, infoLen, keyLen(suite) + TAG_BITS / 8]];
    },
  };
}
