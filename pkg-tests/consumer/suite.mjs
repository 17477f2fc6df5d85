// The package tests, shared by Node (node:test) and Chromium (page, dedicated
// Worker, Service Worker). `makeCases(pkg, env)` returns [{name, fn}] where
// env = { where, fixture(rel) -> Promise<Uint8Array>, sink(dir, name, files) -> Promise }.
// Every crypto case runs against every backend: WebCrypto and Rust (wasm) everywhere, and
// node:crypto in Node (the 'node' backend, registered by the package's Node entry).

const ALL_SUITES = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578];
const committing = (s) => s === 0x0478 || s === 0x0578;
const policyFor = (s) => (committing(s) ? undefined : 'forbid-encrypt-allow-decrypt');
const ALLOW = 'require-encrypt-allow-decrypt';

function fail(msg) {
  throw new Error(msg);
}
function eq(a, b, msg) {
  if (a !== b) fail(`${msg}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
}
function bytesEq(a, b, msg) {
  if (!(a instanceof Uint8Array)) fail(`${msg}: not a Uint8Array`);
  if (a.length !== b.length) fail(`${msg}: length ${a.length} !== ${b.length}`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) fail(`${msg}: differs at ${i}`);
}
async function rejects(p, check, msg) {
  let e;
  try {
    await p;
  } catch (x) {
    e = x;
  }
  if (!e) fail(`${msg}: did not throw`);
  check(e);
  return e;
}
function codeIs(pkg, code, msg) {
  return (e) => {
    if (!(e instanceof pkg.KmsEnvelopeError)) fail(`${msg}: not a KmsEnvelopeError: ${e}`);
    if (!(e instanceof Error)) fail(`${msg}: not an Error`);
    eq(e.code, code, `${msg} (${e.message})`);
  };
}
function isType(T, msg) {
  return (e) => {
    if (!(e instanceof T)) fail(`${msg}: expected ${T.name}, got ${e}`);
  };
}

function pattern(n, salt = 0) {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + salt) & 0xff;
  return a;
}

function streamOf(bytes, chunk) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}

async function readAll(stream) {
  const parts = [];
  let n = 0;
  for (const r = stream.getReader(); ; ) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A keyring with a fixed data key and EDK, so that output depends only on the seed. */
function fixedKeyring(len = 32) {
  const dk = (n) => new Uint8Array(n).fill(0x5a);
  return {
    onEncrypt(m) {
      const plaintextDataKey = m.plaintextDataKey ?? dk({ 0x0014: 16, 0x0114: 16, 0x0214: 16, 0x0046: 24, 0x0146: 24, 0x0346: 24 }[m.suite] ?? len);
      return {
        ...m,
        plaintextDataKey,
        encryptedDataKeys: [...m.encryptedDataKeys, { providerId: 'fixed', providerInfo: new Uint8Array([1, 2]), ciphertext: new Uint8Array([3]) }],
      };
    },
    onDecrypt(m, edks) {
      if (!edks.some((e) => e.providerId === 'fixed')) return null;
      return { ...m, plaintextDataKey: dk({ 0x0014: 16, 0x0114: 16, 0x0214: 16, 0x0046: 24, 0x0146: 24, 0x0346: 24 }[m.suite] ?? len) };
    },
  };
}

const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const text = (u8) => new TextDecoder().decode(u8);

export function makeCases(pkg, env) {
  const BACKENDS = env.where === 'node' ? ['node', 'webcrypto', 'rust'] : ['webcrypto', 'rust'];
  const cases = [];
  const add = (name, fn) => cases.push({ name, fn });
  const key32 = pattern(32, 7);
  const mk = (o = {}) => pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: key32, ...o });

  for (const backend of BACKENDS) {
    add(`[${backend}] round trip: every suite, sizes around the frame length`, async () => {
      const keyring = await mk();
      for (const suite of ALL_SUITES) {
        for (const size of [0, 1, 127, 128, 129, 1000]) {
          const pt = pattern(size, suite);
          const o = { keyring, suite, frameLength: 128, encryptionContext: { tenant: 'a' }, commitmentPolicy: policyFor(suite), backend };
          const ct = await pkg.encrypt(pt, o);
          eq(ct.length, pkg.ciphertextLength(size, o), `ciphertextLength ${suite} ${size}`);
          const out = await pkg.decrypt(ct, { keyring, backend, commitmentPolicy: ALLOW, encryptionContext: { tenant: 'a' } });
          bytesEq(out.plaintext, pt, `suite ${suite} size ${size}`);
          eq(out.suite, suite, 'suite');
          eq(out.encryptionContext.tenant, 'a', 'context');
          eq(out.keyIds.join(), 'ns/k1', 'keyIds');
        }
      }
      keyring.free();
    });

    add(`[${backend}] streams: odd chunk sizes in and out, backpressure-driven`, async () => {
      const keyring = await mk();
      const pt = pattern(300_001, 3);
      for (const suite of [0x0478, 0x0578]) {
        for (const chunk of [1_000, 65_536, 100_003]) {
          const ct = await readAll(streamOf(pt, chunk).pipeThrough(pkg.encryptStream({ keyring, suite, backend })));
          const back = await readAll(streamOf(ct, chunk + 17).pipeThrough(pkg.decryptStream({ keyring, backend })));
          bytesEq(back, pt, `stream ${suite} ${chunk}`);
          const r = await pkg.decrypt(streamOf(ct, 4096), { keyring, backend });
          eq(r.suite, suite, 'header info before the body');
          bytesEq(await readAll(r.plaintext), pt, 'decrypt(stream)');
          const s = await pkg.encrypt(streamOf(pt, chunk), { keyring, suite, backend });
          if (!(s instanceof ReadableStream)) fail('a stream in must give a stream out');
          bytesEq((await pkg.decrypt(await readAll(s), { keyring, backend })).plaintext, pt, 'encrypt(stream)');
        }
      }
    });

    add(`[${backend}] a writer may reuse its buffer once write() resolved (BYOB readers)`, async () => {
      // Each chunk is written from one buffer that is scribbled over as soon as the write
      // resolves: a stream that kept a view of it would seal or open garbage.
      const through = async (ts, data, size) => {
        const out = readAll(ts.readable);
        const w = ts.writable.getWriter();
        const buf = new Uint8Array(size);
        for (let off = 0; off < data.length; off += size) {
          const n = Math.min(size, data.length - off);
          buf.set(data.subarray(off, off + n));
          await w.write(buf.subarray(0, n));
          buf.fill(0xee);
        }
        await w.close();
        return out;
      };
      const keyring = await mk();
      const pt = pattern(300_001, 5);
      for (const suite of [0x0478, 0x0578]) {
        for (const [size, frameLength] of [[1_000, 4096], [65_536, 65536], [100_003, 4096], [7, 128], [999, 1 << 20], [4096, 65536]]) {
          const ct = await through(pkg.encryptStream({ keyring, suite, frameLength, backend }), pt, size);
          const r = await pkg.decrypt(ct, { keyring, backend });
          bytesEq(r.plaintext, pt, `encryptStream reusing a ${size}-byte buffer`);
          const back = await through(pkg.decryptStream({ keyring, backend }), ct, size + 17);
          bytesEq(back, pt, `decryptStream reusing a ${size + 17}-byte buffer`);
        }
      }
      keyring.free();
    });

    add(`[${backend}] Uint8Array views with a non-zero byteOffset, and Blobs`, async () => {
      const keyring = await mk();
      const big = pattern(200_000, 9);
      const view = big.subarray(12_345, 12_345 + 150_000);
      const ct = await pkg.encrypt(view, { keyring, backend, frameLength: 4096 });
      bytesEq((await pkg.decrypt(ct, { keyring, backend })).plaintext, view.slice(), 'view round trip');
      const padded = new Uint8Array(ct.length + 100);
      padded.set(ct, 50);
      const ctView = padded.subarray(50, 50 + ct.length);
      bytesEq((await pkg.decrypt(ctView, { keyring, backend })).plaintext, view.slice(), 'ciphertext view');
      const blobCt = await pkg.encrypt(new Blob([view]), { keyring, backend });
      if (!(blobCt instanceof Uint8Array)) fail('a Blob in gives a buffer out');
      const fromBlob = await pkg.decrypt(new Blob([blobCt]), { keyring, backend });
      bytesEq(fromBlob.plaintext, view.slice(), 'blob round trip');
    });

    add(`[${backend}] tampering, truncation and wrong keys fail with the right code`, async () => {
      const keyring = await mk();
      const pt = pattern(1000, 1);
      for (const suite of [0x0478, 0x0578]) {
        const ct = await pkg.encrypt(pt, { keyring, suite, frameLength: 256, encryptionContext: { a: 'b' }, backend });
        const d = (bytes, o = {}) => pkg.decrypt(bytes, { keyring, backend, ...o });
        const flip = (at) => {
          const c = ct.slice();
          c[at] ^= 1;
          return c;
        };
        const headerLen = ct.length - (1000 + 3 * (4 + 12 + 16) + (4 + 4 + 12 + 4 + 16) + (suite === 0x0578 ? 2 + 103 : 0));
        await rejects(d(flip(headerLen - 1)), codeIs(pkg, 'HEADER_AUTH_FAILED', 'header tag'), 'header tag');
        await rejects(d(flip(headerLen + 30)), codeIs(pkg, 'BODY_AUTH_FAILED', 'first frame'), 'first frame');
        await rejects(d(flip(headerLen + 3 * 288 + 40)), codeIs(pkg, 'BODY_AUTH_FAILED', 'final frame'), 'final frame');
        await rejects(d(flip(headerLen + 1)), codeIs(pkg, 'MALFORMED_MESSAGE', 'sequence number'), 'seq');
        await rejects(d(flip(0)), codeIs(pkg, 'UNSUPPORTED_VERSION', 'version'), 'version');
        for (const cut of [0, 1, 20, headerLen - 1, headerLen, headerLen + 100, ct.length - 1]) {
          await rejects(d(ct.subarray(0, cut)), codeIs(pkg, 'TRUNCATED_MESSAGE', `cut at ${cut}`), `cut ${cut}`);
        }
        const long = new Uint8Array(ct.length + 1);
        long.set(ct);
        await rejects(d(long), codeIs(pkg, 'TRAILING_DATA', 'trailing'), 'trailing');
        await rejects(d(ct, { encryptionContext: { a: 'c' } }), codeIs(pkg, 'ENCRYPTION_CONTEXT_MISMATCH', 'ec'), 'ec');
        const other = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: pattern(32, 8) });
        await rejects(d(ct, { keyring: other }), codeIs(pkg, 'KEYRING_ERROR', 'wrong key'), 'wrong key');
        const stranger = await pkg.RawAesKeyring.create({ keyNamespace: 'x', keyName: 'k1', key: key32 });
        await rejects(d(ct, { keyring: stranger }), codeIs(pkg, 'NO_DECRYPTABLE_KEY', 'no key'), 'no key');
        if (suite === 0x0578) {
          await rejects(d(flip(ct.length - 5)), codeIs(pkg, 'SIGNATURE_INVALID', 'signature'), 'signature');
          await rejects(d(ct, { unsignedOnly: true }), codeIs(pkg, 'SIGNED_MESSAGE_REFUSED', 'unsigned only'), 'unsigned');
        }
        // A stream releases the frames before the bad one, and nothing of it.
        const bad = flip(headerLen + 2 * 288 + 40);
        const got = [];
        const r = streamOf(bad, 100).pipeThrough(pkg.decryptStream({ keyring, backend })).getReader();
        const e = await rejects(
          (async () => {
            for (;;) {
              const { done, value } = await r.read();
              if (done) return;
              got.push(...value);
            }
          })(),
          codeIs(pkg, 'BODY_AUTH_FAILED', 'stream tamper'),
          'stream tamper',
        );
        void e;
        bytesEq(Uint8Array.from(got), pt.subarray(0, 2 * 256), 'released only verified frames');
      }
      const legacy = await pkg.encrypt(pt, { keyring, suite: 0x0178, commitmentPolicy: 'forbid-encrypt-allow-decrypt', backend });
      await rejects(pkg.decrypt(legacy, { keyring, backend }), codeIs(pkg, 'COMMITMENT_POLICY_VIOLATION', 'policy'), 'policy');
    });

    add(`[${backend}] abort mid-stream`, async () => {
      const keyring = await mk();
      for (const which of ['encrypt', 'decrypt']) {
        const ac = new AbortController();
        let pulled = 0;
        const endless = new ReadableStream({
          pull(c) {
            pulled++;
            if (pulled === 20) ac.abort(new Error('stop'));
            c.enqueue(pattern(10_000, pulled));
          },
        });
        let s;
        if (which === 'encrypt') s = endless.pipeThrough(pkg.encryptStream({ keyring, backend, signal: ac.signal }));
        else {
          const enc = endless.pipeThrough(pkg.encryptStream({ keyring, backend }));
          s = enc.pipeThrough(pkg.decryptStream({ keyring, backend, signal: ac.signal }));
        }
        const r = s.getReader();
        const e = await rejects(
          (async () => {
            for (;;) if ((await r.read()).done) return;
          })(),
          () => {},
          `${which} abort`,
        );
        eq(e.message, 'stop', `${which}: the abort reason`);
        if (pulled > 40) fail(`${which}: kept reading after abort (${pulled})`);
      }
    });

    add(`[${backend}] official ESDK vectors (.NET 4.0.0/4.0.1, raw AES keys): valid decrypt, invalid fail`, async () => {
      let n = 0;
      for (const set of ['net-4.0.1', 'net-4.0.0-valid', 'net-4.0.0-invalid']) {
        const manifest = JSON.parse(text(await env.fixture(`esdk/${set}/manifest.json`)));
        const keys = JSON.parse(text(await env.fixture(`esdk/${set}/keys.json`))).keys;
        for (const [id, t] of Object.entries(manifest.tests)) {
          const mkDef = t['master-keys'].find((m) => m.type === 'raw' && m['encryption-algorithm'] === 'aes');
          if (!mkDef) continue; // RSA and KMS keys are not exposed by this package
          const k = keys[mkDef.key];
          const keyring = await pkg.RawAesKeyring.create({ keyNamespace: mkDef['provider-id'], keyName: k['key-id'], key: b64(k.material) });
          const ct = await env.fixture(`esdk/${set}/${t.ciphertext.replace('file://', '')}`);
          const o = { keyring, backend, commitmentPolicy: ALLOW, encryptionContext: t['encryption-context'] ?? {}, unsignedOnly: t['decryption-method'] === 'streaming-unsigned-only' };
          if (t.result.output && set !== 'net-4.0.0-invalid') {
            const want = await env.fixture(`esdk/${set}/${t.result.output.plaintext.replace('file://', '')}`);
            bytesEq((await pkg.decrypt(ct, o)).plaintext, want, `${set} ${id}`);
          } else {
            await rejects(pkg.decrypt(ct, o), (e) => {
              if (!(e instanceof pkg.KmsEnvelopeError)) fail(`${id}: ${e}`);
            }, `${set} ${id} must fail`);
          }
          keyring.free();
          n++;
        }
      }
      if (n < 60) fail(`only ${n} vectors ran`);
    });

    add(`[${backend}] Python SDK messages decrypt; our messages go to the Python SDK`, async () => {
      const keyring = await pkg.RawAesKeyring.create({ keyNamespace: 'interop-ns', keyName: 'interop-key', key: Uint8Array.from({ length: 32 }, (_, i) => i + 1) });
      const m = JSON.parse(text(await env.fixture('python/manifest.json')));
      for (const c of m.cases) {
        const out = await pkg.decrypt(await env.fixture(`python/${c.name}.ct`), { keyring, backend, commitmentPolicy: ALLOW, encryptionContext: c.encryptionContext });
        bytesEq(out.plaintext, await env.fixture(`python/${c.name}.pt`), c.name);
        eq(out.suite, c.suite, `${c.name} suite`);
      }
      if (m.cases.length < 50) fail('too few Python messages');
      for (const suite of ALL_SUITES) {
        for (const size of [0, 5000, 70_000]) {
          const pt = pattern(size, suite + 1);
          const encryptionContext = { from: 'kms-envelope', where: env.where };
          const ct = await pkg.encrypt(pt, { keyring, suite, encryptionContext, commitmentPolicy: policyFor(suite), backend, frameLength: 4096 });
          await env.sink(`${env.where}-${backend}`, `ke-${suite.toString(16)}-${size}`, { ct, pt, meta: { suite, encryptionContext } });
        }
      }
    });
  }

  add('both backends give byte-identical output for the same inputs and randomness', async () => {
    const keyring = fixedKeyring();
    for (const suite of ALL_SUITES) {
      for (const size of [0, 100, 4096, 10_000]) {
        const pt = pattern(size, 2);
        const outs = [];
        for (const backend of BACKENDS) {
          const o = { keyring, suite, frameLength: 4096, commitmentPolicy: policyFor(suite), backend, insecureTestSeed: new Uint8Array([suite & 0xff, size & 0xff]) };
          outs.push(await pkg.encrypt(pt, o));
          outs.push(await readAll(streamOf(pt, 3000).pipeThrough(pkg.encryptStream(o))));
        }
        for (const o of outs.slice(1)) bytesEq(o, outs[0], `suite ${suite} size ${size}`);
      }
    }
    const a = await pkg.encrypt(pattern(10), { keyring, insecureTestSeed: new Uint8Array([1]) });
    const b = await pkg.encrypt(pattern(10), { keyring, insecureTestSeed: new Uint8Array([2]) });
    if (a.every((x, i) => x === b[i])) fail('the seed has no effect');
  });

  add('JS keyrings, multi-keyrings, free() and Symbol.dispose', async () => {
    const a = await mk();
    const b = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k2', key: pattern(16, 5) });
    const multi = await pkg.MultiKeyring.create({ generator: a, children: [b] });
    const ct = await pkg.encrypt(pattern(5000), { keyring: multi });
    bytesEq((await pkg.decrypt(ct, { keyring: b })).plaintext, pattern(5000), 'child decrypts');
    eq((await pkg.decrypt(ct, { keyring: a })).keyIds.join(), 'ns/k1,ns/k2', 'keyIds');
    const js = fixedKeyring();
    const ct2 = await pkg.encrypt(pattern(10), { keyring: js });
    bytesEq((await pkg.decrypt(ct2, { keyring: js })).plaintext, pattern(10), 'JS keyring');
    const broken = { onEncrypt() { throw new Error('boom'); }, onDecrypt: async () => { throw new Error('nope'); } };
    await rejects(pkg.encrypt(pattern(10), { keyring: broken }), codeIs(pkg, 'KEYRING_ERROR', 'throwing keyring'), 'throw');
    await rejects(pkg.decrypt(ct2, { keyring: broken }), codeIs(pkg, 'KEYRING_ERROR', 'rejecting keyring'), 'reject');
    b.free();
    await rejects(pkg.decrypt(ct, { keyring: b }), isType(TypeError, 'freed keyring'), 'freed');
    if (typeof a[Symbol.dispose] !== 'function') fail('no Symbol.dispose');
    a[Symbol.dispose]();
    await rejects(pkg.encrypt(pattern(1), { keyring: a }), isType(TypeError, 'disposed keyring'), 'disposed');
    multi.free();
  });

  add('misuse throws TypeError/RangeError', async () => {
    const keyring = await mk();
    await rejects(pkg.encrypt(pattern(1), {}), isType(TypeError, 'no keyring'), 'no keyring');
    await rejects(pkg.encrypt('text', { keyring }), isType(TypeError, 'string'), 'string');
    await rejects(pkg.encrypt(pattern(1), { keyring, frameLength: 0 }), isType(RangeError, 'frame 0'), 'frame');
    await rejects(pkg.encrypt(pattern(1), { keyring, suite: 0x9999 }), isType(RangeError, 'suite'), 'suite');
    await rejects(pkg.encrypt(pattern(1), { keyring, backend: 'gpu' }), isType(TypeError, 'backend'), 'backend');
    if (env.where !== 'node') {
      // The browser entry has no node:crypto backend.
      await rejects(pkg.encrypt(pattern(1), { keyring, backend: 'node' }), isType(TypeError, 'backend node'), 'backend node');
    }
    await rejects(pkg.encrypt(pattern(1), { keyring, encryptionContext: { a: 1 } }), isType(TypeError, 'ec'), 'ec');
    await rejects(pkg.RawAesKeyring.create({ keyNamespace: 'n', keyName: 'k', key: new Uint8Array(20) }), isType(RangeError, 'key'), 'key');
    await rejects(pkg.RawAesKeyring.create({ keyNamespace: 'n', keyName: 'k', key: 'x' }), isType(TypeError, 'key type'), 'key type');
    let threw = null;
    try {
      pkg.encryptStream({ keyring, frameLength: -1 });
    } catch (e) {
      threw = e;
    }
    if (!(threw instanceof RangeError)) fail('encryptStream misuse');
    await rejects(pkg.encrypt(pattern(1), { keyring, suite: 0x0178 }), codeIs(pkg, 'COMMITMENT_POLICY_VIOLATION', 'policy'), 'policy');
  });

  add('a CryptoKey (extractable AES-GCM) works as a raw AES key', async () => {
    const ck = await crypto.subtle.importKey('raw', key32, { name: 'AES-GCM' }, true, ['encrypt', 'decrypt']);
    const k1 = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: ck });
    const k2 = await mk();
    const ct = await pkg.encrypt(pattern(100), { keyring: k1 });
    bytesEq((await pkg.decrypt(ct, { keyring: k2 })).plaintext, pattern(100), 'CryptoKey and bytes agree');
  });

  add('a non-extractable AES-GCM CryptoKey: WebCrypto wraps the data key, same bytes as the Rust keyring', async () => {
    const imp = (bytes, usages = ['encrypt', 'decrypt']) => crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, usages);
    // Keys that sort differently by UTF-16 and by UTF-8 bytes, and an integer-like key.
    const encryptionContext = { b: '2', a: '1', '10': 'x', '\u{1F600}': 'emoji', '\uFFFD': 'replacement', é: 'e' };
    for (const [bits, salt] of [[256, 7], [128, 3]]) {
      const raw = pattern(bits / 8, salt);
      const viaCk = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: await imp(raw) });
      const viaBytes = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: raw });
      for (const suite of [0x0478, 0x0578, 0x0014, 0x0178]) {
        const o = { encryptionContext, suite, commitmentPolicy: policyFor(suite), frameLength: 512 };
        const pt = pattern(2000, suite);
        const a = await pkg.encrypt(pt, { ...o, keyring: viaCk });
        eq(a.length, pkg.ciphertextLength(pt.length, { ...o, keyring: viaCk }), `ciphertextLength ${bits} ${suite}`);
        const back = await pkg.decrypt(a, { keyring: viaBytes, commitmentPolicy: ALLOW, encryptionContext });
        bytesEq(back.plaintext, pt, `CryptoKey -> bytes ${bits} ${suite}`);
        eq(back.keyIds.join(), 'ns/k1', 'key id');
        const b = await pkg.encrypt(pt, { ...o, keyring: viaBytes });
        bytesEq((await pkg.decrypt(b, { keyring: viaCk, commitmentPolicy: ALLOW })).plaintext, pt, `bytes -> CryptoKey ${bits} ${suite}`);
      }
      viaCk.free();
      viaBytes.free();
    }
    const ck = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: await imp(key32) });
    const ct = await pkg.encrypt(pattern(300), { keyring: ck, encryptionContext: { a: 'b' } });
    const wrong = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: await imp(pattern(32, 8)) });
    await rejects(pkg.decrypt(ct, { keyring: wrong }), codeIs(pkg, 'KEYRING_ERROR', 'wrong CryptoKey'), 'wrong CryptoKey');
    const stranger = await pkg.RawAesKeyring.create({ keyNamespace: 'x', keyName: 'k1', key: await imp(key32) });
    await rejects(pkg.decrypt(ct, { keyring: stranger }), codeIs(pkg, 'NO_DECRYPTABLE_KEY', 'other namespace'), 'stranger');
    const otherName = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k2', key: await imp(key32) });
    await rejects(pkg.decrypt(ct, { keyring: otherName }), codeIs(pkg, 'NO_DECRYPTABLE_KEY', 'other name'), 'other name');
    // The context is the wrap's AAD: a changed stored context fails the unwrap, not just the header.
    await rejects(pkg.decrypt(ct, { keyring: ck, encryptionContext: { a: 'c' } }), (e) => {
      if (!(e instanceof pkg.KmsEnvelopeError)) fail(`context: ${e}`);
    }, 'context');
    // In a multi-keyring, next to key bytes, both ways.
    const child = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k2', key: pattern(16, 5) });
    const multi = await pkg.MultiKeyring.create({ generator: ck, children: [child] });
    const m = await pkg.encrypt(pattern(5000), { keyring: multi });
    bytesEq((await pkg.decrypt(m, { keyring: child })).plaintext, pattern(5000), 'child of a CryptoKey generator');
    bytesEq((await pkg.decrypt(m, { keyring: await mk() })).plaintext, pattern(5000), 'generator as bytes');
    // Usage is enforced by WebCrypto: a decrypt-only key cannot wrap.
    const decOnly = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key: await imp(key32, ['decrypt']) });
    bytesEq((await pkg.decrypt(ct, { keyring: decOnly })).plaintext, pattern(300), 'decrypt-only key decrypts');
    await rejects(pkg.encrypt(pattern(1), { keyring: decOnly }), codeIs(pkg, 'KEYRING_ERROR', 'decrypt-only key'), 'decrypt-only');
    await rejects(pkg.RawAesKeyring.create({ keyNamespace: 'aws-kms', keyName: 'k', key: await imp(key32) }), codeIs(pkg, 'INVALID_ARGUMENT', 'aws-kms'), 'reserved');
    const hmac = await crypto.subtle.importKey('raw', key32, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    await rejects(pkg.RawAesKeyring.create({ keyNamespace: 'n', keyName: 'k', key: hmac }), isType(TypeError, 'HMAC key'), 'hmac');
    // Python SDK messages decrypt with it, and its messages go to the Python SDK.
    const interop = await pkg.RawAesKeyring.create({ keyNamespace: 'interop-ns', keyName: 'interop-key', key: await imp(Uint8Array.from({ length: 32 }, (_, i) => i + 1)) });
    const pm = JSON.parse(text(await env.fixture('python/manifest.json')));
    for (const c of pm.cases.slice(0, 12)) {
      const out = await pkg.decrypt(await env.fixture(`python/${c.name}.ct`), { keyring: interop, commitmentPolicy: ALLOW, encryptionContext: c.encryptionContext });
      bytesEq(out.plaintext, await env.fixture(`python/${c.name}.pt`), `python ${c.name}`);
    }
    for (const suite of [0x0478, 0x0578, 0x0014, 0x0346]) {
      const pt = pattern(3000, suite);
      const encryptionContext = { from: 'kms-envelope', where: env.where, key: 'non-extractable CryptoKey', '\u{1F600}': 'x', '\uFFFD': 'y' };
      const ct2 = await pkg.encrypt(pt, { keyring: interop, suite, encryptionContext, commitmentPolicy: policyFor(suite), frameLength: 1024 });
      await env.sink(`${env.where}-cryptokey`, `ck-${suite.toString(16)}`, { ct: ct2, pt, meta: { suite, encryptionContext } });
    }
  });

  add('256 MiB through the streams (the AWS browser client fails here)', async () => {
    const keyring = await mk();
    const total = 256 * 1024 * 1024;
    const chunk = pattern(1 << 20, 4);
    let sent = 0;
    const src = new ReadableStream({
      pull(c) {
        if (sent >= total) return c.close();
        c.enqueue(chunk);
        sent += chunk.length;
      },
    });
    let got = 0;
    let bad = 0;
    const dst = src.pipeThrough(pkg.encryptStream({ keyring })).pipeThrough(pkg.decryptStream({ keyring }));
    for (const r = dst.getReader(); ; ) {
      const { done, value } = await r.read();
      if (done) break;
      for (let i = 0; i < value.length; i += 4099) if (value[i] !== chunk[(got + i) % chunk.length]) bad++;
      got += value.length;
    }
    eq(got, total, 'length');
    eq(bad, 0, 'sampled bytes');
  });

  return cases;
}
