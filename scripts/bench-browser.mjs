// Throughput of kms-envelope vs one raw AES-256-GCM call and vs the AWS Encryption SDK for
// JavaScript, in headless Chromium (page) and in Node; same buffer, same run. Plus sizes.
// Run through scripts/bench-browser.sh (installs what this needs into target/bench).
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createCipheriv, createDecipheriv, randomFillSync, webcrypto } from 'node:crypto';
import { extname, join } from 'node:path';
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url).pathname;
const MiB = 1 << 20;
const SIZE = Number(process.env.BENCH_MIB ?? 256) * MiB;
const AWS_SIZE = Number(process.env.BENCH_AWS_MIB ?? 32) * MiB;
const REPS = Number(process.env.BENCH_REPS ?? 2);
const WHERE = (process.env.BENCH_WHERE ?? 'chromium,node').split(',');
const results = { sizeMiB: SIZE / MiB, awsSizeMiB: AWS_SIZE / MiB };

// ---- sizes
const pkgDir = join(here, 'node_modules/kms-envelope');
const gz = (f) => gzipSync(readFileSync(join(pkgDir, f)), { level: 9 }).length;
// What the browser entry loads: index.js, its static imports (followed), and the main wasm; the
// ECDSA wasm is loaded on the first signed message.
const loaded = new Set();
const follow = (f) => {
  if (loaded.has(f)) return;
  loaded.add(f);
  const src = readFileSync(join(pkgDir, f), 'utf8');
  for (const m of src.matchAll(/(?:import|export)\s*(?:[^'"]*?\bfrom\s*)?["'](\.[^"']+)["']/g)) {
    follow(join(f, '..', m[1]).replace(/^\.\//, ''));
  }
};
follow('index.js');
loaded.add('wasm/kms_envelope_bg.wasm');
results.sizeGzip = {
  files: [...loaded].sort(),
  kmsEnvelope: [...loaded].reduce((n, f) => n + gz(f), 0),
  wasmGzip: gz('wasm/kms_envelope_bg.wasm'),
  signatureWasmGzip: gz('wasm/kms_envelope_sig_bg.wasm'),
};
await writeFile(join(here, 'buffer-shim.js'), "import { Buffer } from 'buffer';\nexport { Buffer };\n");
await writeFile(join(here, 'aws-entry.js'), "export * from '@aws-crypto/client-browser';\n");
const aws = await build({
  entryPoints: [join(here, 'aws-entry.js')], bundle: true, minify: true, format: 'esm', platform: 'browser',
  outfile: join(here, 'dist/aws-client-browser.js'), inject: [join(here, 'buffer-shim.js')], define: { global: 'globalThis' },
  logLevel: 'error',
});
void aws;
results.sizeGzip.awsClientBrowser = gzipSync(readFileSync(join(here, 'dist/aws-client-browser.js')), { level: 9 }).length;

// ---- the measurements, as one function that runs in both Chromium and Node
async function bench(env) {
  const { pkg, awsEncrypt, awsDecrypt, awsKeyring, rawEncrypt, rawDecrypt, SIZE, AWS_SIZE, REPS, MiB } = env;
  const now = () => performance.now();
  const fill = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
    return b;
  };
  const keyBytes = fill(32);
  const keyring = await pkg.RawAesKeyring.create({ keyNamespace: 'bench', keyName: 'k', key: keyBytes });
  const chunked = (buf, chunk) => {
    let off = 0;
    return new ReadableStream({
      pull(c) {
        if (off >= buf.length) return c.close();
        c.enqueue(buf.subarray(off, off + chunk));
        off += chunk;
      },
    }, { highWaterMark: 0 });
  };
  const drain = async (s, keep) => {
    const parts = [];
    let n = 0;
    for (const r = s.getReader(); ; ) {
      const { done, value } = await r.read();
      if (done) break;
      n += value.length;
      if (keep) parts.push(value);
    }
    if (!keep) return n;
    const out = new Uint8Array(n);
    let p = 0;
    for (const x of parts) {
      out.set(x, p);
      p += x.length;
    }
    return out;
  };
  const best = async (f) => {
    let t = Infinity;
    for (let i = 0; i < REPS; i++) {
      const t0 = now();
      await f();
      t = Math.min(t, now() - t0);
    }
    return t / 1000;
  };
  const mbps = (n, s) => Math.round(n / s / 1e6);
  const r = {};
  const buf = fill(SIZE);
  const rawCt = await rawEncrypt(buf, keyBytes);
  r.rawEncrypt = mbps(SIZE, await best(() => rawEncrypt(buf, keyBytes)));
  r.rawDecrypt = mbps(SIZE, await best(() => rawDecrypt(rawCt, keyBytes)));
  for (const suite of [0x0478, 0x0578]) {
    const o = { keyring, suite };
    let ct;
    r[`ours_${suite.toString(16)}_encryptStream`] = mbps(SIZE, await best(async () => (ct = await drain(chunked(buf, MiB).pipeThrough(pkg.encryptStream(o)), true))));
    r[`ours_${suite.toString(16)}_decryptStream`] = mbps(SIZE, await best(() => drain(chunked(ct, MiB).pipeThrough(pkg.decryptStream(o)))));
    r[`ours_${suite.toString(16)}_encryptBuffer`] = mbps(SIZE, await best(() => pkg.encrypt(buf, o)));
    r[`ours_${suite.toString(16)}_decryptBuffer`] = mbps(SIZE, await best(() => pkg.decrypt(ct, o)));
    ct = null;
  }
  r.ours_0478_rust_encryptStream = mbps(32 * MiB, await best(() => drain(chunked(buf.subarray(0, 32 * MiB), MiB).pipeThrough(pkg.encryptStream({ keyring, backend: 'rust' })))));
  // AWS: its defaults (suite 0x0578, frame 4096). First the full buffer, then AWS_SIZE.
  try {
    const t0 = now();
    const ct = await awsEncrypt(awsKeyring, buf);
    r.awsFullSize = { encryptSeconds: (now() - t0) / 1000, ok: true };
    const t1 = now();
    await awsDecrypt(awsKeyring, ct);
    r.awsFullSize.decryptSeconds = (now() - t1) / 1000;
  } catch (e) {
    r.awsFullSize = { ok: false, error: String(e).slice(0, 200) };
  }
  const small = buf.subarray(0, AWS_SIZE);
  let awsCt;
  r.aws_encrypt = mbps(AWS_SIZE, await best(async () => (awsCt = await awsEncrypt(awsKeyring, small))));
  r.aws_decrypt = mbps(AWS_SIZE, await best(() => awsDecrypt(awsKeyring, awsCt)));
  let ct2;
  r.ours_small_0578_encryptStream = mbps(AWS_SIZE, await best(async () => (ct2 = await drain(chunked(small, MiB).pipeThrough(pkg.encryptStream({ keyring, suite: 0x0578 })), true))));
  r.ours_small_0578_decryptStream = mbps(AWS_SIZE, await best(() => drain(chunked(ct2, MiB).pipeThrough(pkg.decryptStream({ keyring })))));
  r.ours_small_0478_encryptStream = mbps(AWS_SIZE, await best(async () => (ct2 = await drain(chunked(small, MiB).pipeThrough(pkg.encryptStream({ keyring })), true))));
  r.ours_small_0478_decryptStream = mbps(AWS_SIZE, await best(() => drain(chunked(ct2, MiB).pipeThrough(pkg.decryptStream({ keyring })))));
  return r;
}

// ---- Chromium
const server = createServer(async (req, res) => {
  const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  try {
    const data = await readFile(join(here, p));
    const type = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm' }[extname(p)] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(data);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
if (WHERE.includes('chromium')) {
  await writeFile(join(here, 'bench.html'), '<!doctype html><meta charset="utf-8"><title>bench</title>');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/bench.html`);
    results.chromium = await page.evaluate(async ([src, SIZE, AWS_SIZE, REPS, MiB]) => {
      const pkg = await import('/node_modules/kms-envelope/index.js');
      const aws = await import('/dist/aws-client-browser.js');
      const { encrypt, decrypt } = aws.buildClient(aws.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
      const keyBytes = crypto.getRandomValues(new Uint8Array(32));
      const masterKey = await aws.RawAesKeyringWebCrypto.importCryptoKey(keyBytes, aws.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING);
      const awsKeyring = new aws.RawAesKeyringWebCrypto({ keyName: 'k', keyNamespace: 'bench', wrappingSuite: aws.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING, masterKey });
      const iv = new Uint8Array(12);
      const imp = (k, u) => crypto.subtle.importKey('raw', k, 'AES-GCM', false, [u]);
      const env = {
        pkg, awsKeyring, SIZE, AWS_SIZE, REPS, MiB,
        awsEncrypt: async (k, b) => (await encrypt(k, b)).result,
        awsDecrypt: async (k, b) => (await decrypt(k, b)).plaintext,
        rawEncrypt: async (b, k) => new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await imp(k, 'encrypt'), b)),
        rawDecrypt: async (b, k) => new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, await imp(k, 'decrypt'), b)),
      };
      return (0, eval)(`(${src})`)(env);
    }, [bench.toString(), SIZE, AWS_SIZE, REPS, MiB]);
  } finally {
    await browser.close();
  }
}
server.close();

// ---- Node
if (WHERE.includes('node')) {
  const pkg = await import('kms-envelope');
  const aws = createRequire(join(here, 'aws-node/x.js'))('@aws-crypto/client-node');
  const { encrypt, decrypt } = aws.buildClient(aws.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const awsKeyring = new aws.RawAesKeyringNode({ keyName: 'k', keyNamespace: 'bench', unencryptedMasterKey: webcrypto.getRandomValues(new Uint8Array(32)), wrappingSuite: aws.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING });
  const iv = Buffer.alloc(12);
  results.node = await bench({
    pkg, awsKeyring, SIZE, AWS_SIZE, REPS, MiB,
    awsEncrypt: async (k, b) => (await encrypt(k, b)).result,
    awsDecrypt: async (k, b) => (await decrypt(k, b)).plaintext,
    rawEncrypt: async (b, k) => {
      const c = createCipheriv('aes-256-gcm', k, iv);
      const out = Buffer.concat([c.update(b), c.final()]);
      return Buffer.concat([out, c.getAuthTag()]);
    },
    rawDecrypt: async (b, k) => {
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAuthTag(b.subarray(b.length - 16));
      return Buffer.concat([d.update(b.subarray(0, b.length - 16)), d.final()]);
    },
  });
  void randomFillSync;
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;
for (const where of WHERE) {
  const r = results[where];
  r.ratios = {
    encryptStream_vs_raw: ratio(r.ours_478_encryptStream, r.rawEncrypt),
    decryptStream_vs_raw: ratio(r.ours_478_decryptStream, r.rawDecrypt),
    encrypt_vs_aws_sameSuite0578: ratio(r.ours_small_0578_encryptStream, r.aws_encrypt),
    decrypt_vs_aws_sameSuite0578: ratio(r.ours_small_0578_decryptStream, r.aws_decrypt),
    encrypt_vs_aws_defaults: ratio(r.ours_small_0478_encryptStream, r.aws_encrypt),
    decrypt_vs_aws_defaults: ratio(r.ours_small_0478_decryptStream, r.aws_decrypt),
  };
}
await writeFile(join(here, 'results.json'), JSON.stringify(results, null, 1));
console.log(JSON.stringify(results, null, 1));
