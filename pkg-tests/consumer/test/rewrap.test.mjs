// rewrapHeader / headerLength: share a message by writing a new header for its untouched body.
// The rewritten message made for the interop key goes to sink/ for the Python SDK to decrypt
// (pkg-tests/run.sh, step 6).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as pkg from 'kms-envelope';

const root = new URL('..', import.meta.url).pathname;
const { encrypt, decrypt, decryptStream, rewrapHeader, headerLength, RawAesKeyring, KmsEnvelopeError } = pkg;
const key = (b) => new Uint8Array(32).fill(b);
const aes = (name, b) => RawAesKeyring.create({ keyNamespace: 'test-ns', keyName: name, key: key(b) });
const pattern = (n, s = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + s) & 0xff);
const OWNER = { owner: 'alice', purpose: 'upload' };
const READER = { owner: 'alice', purpose: 'upload', reader: 'bob' };

function split(msg) {
  const n = headerLength(msg);
  assert.ok(n > 0 && n < msg.length);
  return [msg.subarray(0, n), msg.subarray(n)];
}
const cat = (a, b) => {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
};
const code = (c) => (e) => e instanceof KmsEnvelopeError && e.code === c;

test('headerLength: null until the whole header is there, then its length', async () => {
  const a = await aes('a', 1);
  const msg = await encrypt(pattern(100), { keyring: a, encryptionContext: OWNER });
  const n = headerLength(msg);
  for (let i = 0; i < n; i++) assert.equal(headerLength(msg.subarray(0, i)), null, `prefix ${i}`);
  assert.equal(headerLength(msg.subarray(0, n)), n);
  assert.throws(() => headerLength(new Uint8Array([7, 7, 7])), code('UNSUPPORTED_VERSION'));
  assert.throws(() => headerLength('x'), TypeError);
});

test('the new header with the old body decrypts for the new keyring and context only', async () => {
  const [a, b] = [await aes('alice', 1), await aes('bob', 2)];
  for (const size of [0, 1, 65536, 200_001]) {
    const pt = pattern(size, 3);
    const [head, body] = split(await encrypt(pt, { keyring: a, encryptionContext: OWNER }));
    const nh = await rewrapHeader(head, { keyring: a, encryptionContext: OWNER, newKeyring: b, newEncryptionContext: READER });
    assert.ok(nh instanceof Uint8Array && headerLength(nh) === nh.length);
    const out = await decrypt(cat(nh, body), { keyring: b, encryptionContext: READER });
    assert.deepEqual(out.plaintext, pt, `size ${size}`);
    assert.deepEqual(out.encryptionContext, READER);
    await assert.rejects(decrypt(cat(nh, body), { keyring: a }), code('NO_DECRYPTABLE_KEY'));
    await assert.rejects(decrypt(cat(head, body), { keyring: b }), code('NO_DECRYPTABLE_KEY'));
  }
});

test('a JS keyring wraps the existing data key (it never generates one) and a tampered new header fails', async () => {
  const a = await aes('alice', 1);
  const wk = await webcrypto.subtle.importKey('raw', key(9), 'AES-GCM', false, ['encrypt', 'decrypt']);
  let seen = null;
  const custom = {
    async onEncrypt(m) {
      assert.ok(m.plaintextDataKey instanceof Uint8Array && m.plaintextDataKey.length === 32, 'the data key is given');
      seen = m.encryptionContext;
      const iv = webcrypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv }, wk, m.plaintextDataKey));
      m.encryptedDataKeys.push({ providerId: 'custom', providerInfo: iv, ciphertext: ct });
      return m;
    },
    async onDecrypt(m, edks) {
      const e = edks.find((x) => x.providerId === 'custom');
      if (!e) return null;
      m.plaintextDataKey = new Uint8Array(await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: e.providerInfo }, wk, e.ciphertext));
      return m;
    },
  };
  const pt = pattern(150_000, 5);
  const [head, body] = split(await encrypt(pt, { keyring: a, encryptionContext: OWNER, frameLength: 4096 }));
  const nh = await rewrapHeader(head, { keyring: a, encryptionContext: OWNER, newKeyring: custom, newEncryptionContext: READER });
  assert.deepEqual(seen, READER);
  assert.deepEqual((await decrypt(cat(nh, body), { keyring: custom })).plaintext, pt);
  // A flipped bit in the new header's tag: HEADER_AUTH_FAILED, and the stream yields nothing.
  const bad = nh.slice();
  bad[bad.length - 1] ^= 1;
  await assert.rejects(decrypt(cat(bad, body), { keyring: custom }), code('HEADER_AUTH_FAILED'));
  const got = [];
  const s = new Blob([bad, body]).stream().pipeThrough(decryptStream({ keyring: custom }));
  await assert.rejects(async () => { for await (const c of s) got.push(c); }, code('HEADER_AUTH_FAILED'));
  assert.equal(got.length, 0);
  // A keyring failure keeps its own error.
  const failing = { onEncrypt() { throw new KmsEnvelopeError('KMS_ACCESS_DENIED', 'no'); }, onDecrypt() { return null; } };
  await assert.rejects(rewrapHeader(head, { keyring: a, encryptionContext: OWNER, newKeyring: failing }), code('KMS_ACCESS_DENIED'));
});

test('the old header is verified; signed suites and v1 messages are refused', async () => {
  const [a, b] = [await aes('alice', 1), await aes('bob', 2)];
  const [head] = split(await encrypt(pattern(10), { keyring: a, encryptionContext: OWNER }));
  const t = head.slice();
  t[t.length - 2] ^= 1;
  await assert.rejects(rewrapHeader(t, { keyring: a, newKeyring: b }), code('HEADER_AUTH_FAILED'));
  await assert.rejects(rewrapHeader(head, { keyring: b, newKeyring: b }), code('NO_DECRYPTABLE_KEY'));
  await assert.rejects(rewrapHeader(head, { keyring: a, encryptionContext: { owner: 'mallory' }, newKeyring: b }), code('ENCRYPTION_CONTEXT_MISMATCH'));
  await assert.rejects(rewrapHeader(head.subarray(0, head.length - 1), { keyring: a, newKeyring: b }), code('TRUNCATED_MESSAGE'));
  await assert.rejects(rewrapHeader(head, { keyring: a }), TypeError);
  for (const [suite, commitmentPolicy] of [[0x0578, undefined], [0x0178, 'forbid-encrypt-allow-decrypt'], [0x0378, 'forbid-encrypt-allow-decrypt']]) {
    const [h] = split(await encrypt(pattern(10), { keyring: a, suite, commitmentPolicy }));
    await assert.rejects(rewrapHeader(h, { keyring: a, newKeyring: b, commitmentPolicy: 'require-encrypt-allow-decrypt' }), code('UNSUPPORTED_SUITE'), `suite ${suite.toString(16)}`);
  }
});

test('a rewritten message goes to the Python SDK (interop key, new context)', async () => {
  const a = await aes('alice', 1);
  const interop = await RawAesKeyring.create({ keyNamespace: 'interop-ns', keyName: 'interop-key', key: Uint8Array.from({ length: 32 }, (_, i) => i + 1) });
  const d = join(root, 'sink', 'node-rewrap');
  await mkdir(d, { recursive: true });
  for (const size of [0, 70_000]) {
    const pt = pattern(size, 11);
    const [head, body] = split(await encrypt(pt, { keyring: a, encryptionContext: OWNER, frameLength: 4096 }));
    const nh = await rewrapHeader(head, { keyring: a, encryptionContext: OWNER, newKeyring: interop, newEncryptionContext: READER });
    const ct = cat(nh, body);
    assert.deepEqual((await decrypt(ct, { keyring: interop })).plaintext, pt);
    await writeFile(join(d, `rewrapped-${size}.ct`), ct);
    await writeFile(join(d, `rewrapped-${size}.pt`), pt);
    await writeFile(join(d, `rewrapped-${size}.json`), JSON.stringify({ suite: 0x0478, encryptionContext: READER }));
  }
});
