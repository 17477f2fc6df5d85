// KmsProxyKeyring and the secrets API against a real kms-proxy (target/debug/kms-proxy),
// in Node and in Chromium (playwright-core, /usr/bin/chromium, a page served from a local
// static server whose origin the proxy's CORS allows). Interop with the official Python
// ESDK's KMS keyring through the same proxy. Run: node --test kms/ (from the consumer project).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { KmsProxyKeyring, encrypt, decrypt, putSecret, getSecret, getSecretsByPath, KmsEnvelopeError } from 'kms-envelope';
import { Proxy, jwt, OWN_DATA_POLICY, userArn } from './harness.mjs';
import { serve } from '../browser/server.mjs';

const ROOT = process.env.KMS_ENVELOPE_ROOT ?? '../..';
const PY = process.env.KMS_ENVELOPE_PYTHON ?? join(ROOT, '.venv/bin/python');
const te = new TextEncoder();
const td = new TextDecoder();
let proxy, server, origin, bs, browser, page, ownKey, plainKey, plainKey2;

before(async () => {
  server = await serve(new URL('..', import.meta.url).pathname);
  origin = `http://127.0.0.1:${server.address().port}`;
  proxy = await new Proxy({ corsOrigins: [origin] }).start();
  ownKey = (await proxy.admin('CreateKey', { Policy: JSON.stringify(OWN_DATA_POLICY) })).KeyMetadata.Arn;
  plainKey = (await proxy.admin('CreateKey', { Description: 'secrets' })).KeyMetadata.Arn;
  plainKey2 = (await proxy.admin('CreateKey', { Description: 'second' })).KeyMetadata.Arn;
  await proxy.admin('CreateAlias', { AliasName: 'alias/second', TargetKeyId: plainKey2 });
  bs = await chromium.launchServer({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  browser = await chromium.connect(bs.wsEndpoint());
  page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`pageerror: ${e.message}`));
  await page.goto(`${origin}/kms/page.html`);
  await page.waitForFunction(() => window.ready === true);
});

after(async () => {
  await browser?.close();
  await bs?.close();
  await proxy?.stop();
  proxy?.remove();
  server?.close();
});

// ---- in Chromium --------------------------------------------------------------------

/** Encrypt in the page with `token`; returns {ct: base64} or {code}. */
function browserEncrypt(token, keyIds, context, text) {
  return page.evaluate(async ({ endpoint, token, keyIds, context, text }) => {
    const { KmsProxyKeyring, encrypt } = window.pkg;
    try {
      const keyring = await KmsProxyKeyring.create({ endpoint, keyIds, token: async () => token, retries: 1 });
      const ct = await encrypt(new TextEncoder().encode(text), { keyring, encryptionContext: context });
      return { ct: window.b64(ct) };
    } catch (e) {
      return { code: e.code ?? e.name, message: e.message };
    }
  }, { endpoint: proxy.url, token, keyIds, context, text });
}

function browserDecrypt(token, opts, ctB64, context) {
  return page.evaluate(async ({ endpoint, token, opts, ctB64, context }) => {
    const { KmsProxyKeyring, decrypt } = window.pkg;
    try {
      const keyring = await KmsProxyKeyring.create({ endpoint, token, retries: 1, ...opts });
      const r = await decrypt(window.unb64(ctB64), { keyring, encryptionContext: context });
      return { text: new TextDecoder().decode(r.plaintext), context: r.encryptionContext };
    } catch (e) {
      return { code: e.code ?? e.name, message: e.message };
    }
  }, { endpoint: proxy.url, token, opts, ctB64, context });
}

test('chromium: a key for own data only: alice encrypts for owner=alice, not for owner=bob', async () => {
  const ok = await browserEncrypt(jwt('alice'), [ownKey], { owner: 'alice' }, 'alice data');
  assert.ok(ok.ct, JSON.stringify(ok));
  const no = await browserEncrypt(jwt('alice'), [ownKey], { owner: 'bob' }, 'forged');
  assert.equal(no.code, 'KMS_ACCESS_DENIED', JSON.stringify(no));
  const back = await browserDecrypt(jwt('alice'), { keyIds: [ownKey] }, ok.ct, { owner: 'alice' });
  assert.equal(back.text, 'alice data', JSON.stringify(back));
});

test('chromium: bob cannot decrypt alice\'s message until a grant, and not after it is retired', async () => {
  const { ct } = await browserEncrypt(jwt('alice'), [ownKey], { owner: 'alice' }, 'shared later');
  const before = await browserDecrypt(jwt('bob'), { keyIds: [ownKey] }, ct, { owner: 'alice' });
  assert.equal(before.code, 'KMS_ACCESS_DENIED', JSON.stringify(before));
  const g = await proxy.admin('CreateGrant', {
    KeyId: ownKey, GranteePrincipal: userArn('bob'), RetiringPrincipal: userArn('admin'), Operations: ['Decrypt'],
    Constraints: { EncryptionContextEquals: { owner: 'alice' } }, Name: 'share-with-bob',
  });
  const during = await browserDecrypt(jwt('bob'), { discovery: true }, ct, { owner: 'alice' });
  assert.equal(during.text, 'shared later', JSON.stringify(during));
  await proxy.admin('RetireGrant', { KeyId: ownKey, GrantId: g.GrantId });
  const afterwards = await browserDecrypt(jwt('bob'), { keyIds: [ownKey] }, ct, { owner: 'alice' });
  assert.equal(afterwards.code, 'KMS_ACCESS_DENIED', JSON.stringify(afterwards));
});

function python(op, ctx, dataB64) {
  const r = spawnSync(PY, [join(ROOT, 'pkg-tests/interop/kms_esdk.py'), op, proxy.url, proxy.accessKey, proxy.secretKey, ownKey, JSON.stringify(ctx)],
    { input: dataB64, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('interop: a Chromium message decrypts with the Python ESDK KMS keyring, and the other way', async () => {
  const text = `from chromium ${Math.random()}`;
  const { ct } = await browserEncrypt(jwt('alice'), [ownKey], { owner: 'alice' }, text);
  const py = python('decrypt', { owner: 'alice' }, ct);
  assert.ok(py.ok, py.error);
  assert.equal(Buffer.from(py.out, 'base64').toString(), text);
  assert.deepEqual(py.edks, [['aws-kms', ownKey]]);
  const text2 = `from python ${Math.random()}`;
  const made = python('encrypt', { owner: 'alice' }, Buffer.from(text2).toString('base64'));
  assert.ok(made.ok, made.error);
  const back = await browserDecrypt(jwt('alice'), { keyIds: [ownKey] }, made.out, { owner: 'alice' });
  assert.equal(back.text, text2, JSON.stringify(back));
  assert.equal(back.context.owner, 'alice');
});

/** Whether any file of the proxy's store (store.db, -wal, -shm, and any store.db* directory) holds `needle`. */
function storeContains(needle) {
  const files = (dir) => readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  const store = readdirSync(proxy.dir).filter((f) => f.startsWith('store.db')).map((f) => join(proxy.dir, f));
  const all = store.flatMap((f) => (statSync(f).isDirectory() ? files(f) : [f]));
  assert.ok(all.length > 0, 'no store files');
  return all.some((f) => readFileSync(f).includes(needle));
}

test('chromium: putSecret stores only ciphertext; getSecret reads it back; getSecretsByPath pages over 25', async () => {
  const secret = `db-pa55-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const r = await page.evaluate(async ({ endpoint, token, key, secret }) => {
    const { KmsProxyKeyring, putSecret, getSecret, getSecretsByPath } = window.pkg;
    const keyring = await KmsProxyKeyring.create({ endpoint, keyIds: [key], token: () => token });
    const o = { endpoint, keyring, token: () => token };
    const put = await putSecret('/app/prod/db-password', secret, o);
    const got = await getSecret('/app/prod/db-password', o);
    const gotV = await getSecret(`/app/prod/db-password:${put.version}`, o);
    await Promise.all(Array.from({ length: 25 }, (_, i) => putSecret(`/app/many/${i < 5 ? 'deep/' : ''}s${i}`, `value-${i}`, o)));
    let pages = 0;
    const counting = (u, init) => {
      if (init.headers['X-Amz-Target'] === 'AmazonSSM.GetParametersByPath') pages++;
      return fetch(u, init);
    };
    const all = [];
    for await (const p of getSecretsByPath('/app/many', { ...o, recursive: true, fetch: counting })) all.push(p);
    const flat = [];
    for await (const p of getSecretsByPath('/app/many', { ...o, fetch: counting })) flat.push(p);
    return { put, got, gotV, all, pages, flat: flat.length };
  }, { endpoint: proxy.url, token: jwt('carol'), key: plainKey, secret });
  assert.equal(r.got, secret);
  assert.equal(r.gotV, secret);
  assert.equal(r.all.length, 25);
  assert.deepEqual(r.all.map((p) => p.value).sort(), Array.from({ length: 25 }, (_, i) => `value-${i}`).sort());
  for (const p of r.all) assert.equal(p.value, `value-${p.name.match(/s(\d+)$/)[1]}`);
  assert.equal(r.flat, 20); // not recursive: deep/ left out
  assert.ok(r.pages >= 3 + 2, `pages: ${r.pages}`); // 25 in pages of 10, then 20
  assert.ok(!storeContains(Buffer.from(secret)), 'the plaintext is in the store');
  assert.ok(!storeContains(Buffer.from('value-13')), 'a plaintext is in the store');
  assert.ok(storeContains(Buffer.from('/app/prod/db-password')), 'the store files were not found');
});

test('chromium: error codes for a bad token and an unknown key', async () => {
  const bad = await browserEncrypt('not.a.jwt', [plainKey], {}, 'x');
  assert.equal(bad.code, 'KMS_ACCESS_DENIED', JSON.stringify(bad));
  const expired = await browserEncrypt(jwt('alice', { exp: Math.floor(Date.now() / 1000) - 3600 }), [plainKey], {}, 'x');
  assert.equal(expired.code, 'KMS_ACCESS_DENIED', JSON.stringify(expired));
  const unknown = await browserEncrypt(jwt('alice'), ['arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000'], {}, 'x');
  assert.equal(unknown.code, 'KMS_KEY_NOT_FOUND', JSON.stringify(unknown));
});

// ---- in Node ------------------------------------------------------------------------

test('node: GenerateDataKey then Encrypt for a second key (alias); EDKs are aws-kms + ARN; either key decrypts', async () => {
  let calls = 0;
  const token = async () => {
    calls++;
    return jwt('dave');
  };
  const enc = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey, 'alias/second'], token });
  const ct = await encrypt(te.encode('two keys'), { keyring: enc, encryptionContext: { purpose: 'test' } });
  assert.equal(calls, 2, 'the token supplier is asked per request');
  let seen;
  const only2 = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey2], token });
  const spy = { onDecrypt: (m, edks) => { seen = edks; return only2.onDecrypt(m, edks); } };
  const r = await decrypt(ct, { keyring: spy, encryptionContext: { purpose: 'test' } });
  assert.equal(td.decode(r.plaintext), 'two keys');
  assert.deepEqual(seen.map((e) => [e.providerId, td.decode(e.providerInfo)]), [['aws-kms', plainKey], ['aws-kms', plainKey2]]);
  const disc = await KmsProxyKeyring.create({ endpoint: proxy.url, discovery: true, token });
  assert.equal(td.decode((await decrypt(ct, { keyring: disc })).plaintext), 'two keys');
  // A keyring for another key does not recognize the message.
  const other = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [ownKey], token });
  await assert.rejects(decrypt(ct, { keyring: other }), { code: 'NO_DECRYPTABLE_KEY' });
  await assert.rejects(encrypt(te.encode('x'), { keyring: disc }), (e) => e instanceof KmsEnvelopeError);
});

test('node: disabled key, wrong context, and a message moved to another parameter name', async () => {
  const token = jwt('erin');
  const k = (await proxy.admin('CreateKey', {})).KeyMetadata.Arn;
  const keyring = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [k], token });
  const ct = await encrypt(te.encode('x'), { keyring, encryptionContext: { a: 'b' } });
  // Tampered stored context: the proxy refuses the blob under another context.
  const spoof = { onDecrypt: (m, edks) => keyring.onDecrypt({ ...m, encryptionContext: { a: 'c' } }, edks) };
  await assert.rejects(decrypt(ct, { keyring: spoof }), { code: 'KMS_INVALID_CIPHERTEXT' });
  await proxy.admin('DisableKey', { KeyId: k });
  await assert.rejects(encrypt(te.encode('x'), { keyring }), { code: 'KMS_KEY_DISABLED' });
  await assert.rejects(decrypt(ct, { keyring }), { code: 'KMS_KEY_DISABLED' });
  const o = { endpoint: proxy.url, keyring: await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey], token }), token };
  await putSecret('/moved/a', 'secret a', o);
  const stored = await proxy.admin('GetParameter', { Name: '/moved/a', WithDecryption: true }, 'ssm');
  await proxy.admin('PutParameter', { Name: '/elsewhere/b', Value: stored.Parameter.Value, Type: 'SecureString', KeyId: 'client-encrypted' }, 'ssm');
  await assert.rejects(getSecret('/elsewhere/b', o), { code: 'ENCRYPTION_CONTEXT_MISMATCH' });
  await proxy.admin('PutParameter', { Name: '/moved/plain', Value: 'not secret', Type: 'String' }, 'ssm');
  const all = [];
  for await (const p of getSecretsByPath('/moved', { ...o, fetch: undefined })) all.push(p);
  assert.deepEqual(all.map((p) => [p.name, p.value]), [['/moved/a', 'secret a'], ['/moved/plain', 'not secret']]);
  await assert.rejects(getSecret('/moved/none', o), { code: 'PARAMETER_NOT_FOUND' });
  await assert.rejects(putSecret('/moved/a', 'again', o), { code: 'PARAMETER_ALREADY_EXISTS' });
});

test('node: retries with backoff on 5xx, then success; timeouts and network errors are KMS_UNREACHABLE', async () => {
  let n = 0;
  const flaky = (u, i) => (++n <= 2 ? Promise.resolve(new Response('{"__type":"InternalFailure"}', { status: 503 })) : fetch(u, i));
  const kr = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey], token: jwt('frank'), fetch: flaky, retries: 3 });
  const ct = await encrypt(te.encode('after retries'), { keyring: kr });
  assert.equal(n, 3);
  n = -100;
  const t0 = Date.now();
  const kr0 = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey], token: jwt('frank'), fetch: flaky, retries: 2 });
  await assert.rejects(decrypt(ct, { keyring: kr0 }), { code: 'KMS_UNREACHABLE' });
  assert.equal(n, -97, 'three attempts');
  assert.ok(Date.now() - t0 >= 100, 'backoff between attempts');
  let throttled = 0;
  const throttle = () => { throttled++; return Promise.resolve(new Response('{"__type":"ThrottlingException","message":"slow down"}', { status: 400 })); };
  const kr1 = await KmsProxyKeyring.create({ endpoint: proxy.url, keyIds: [plainKey], token: 't', fetch: throttle, retries: 1 });
  await assert.rejects(encrypt(te.encode('x'), { keyring: kr1 }), { code: 'KMS_ERROR' });
  assert.equal(throttled, 2);
  // A server that never answers: the timeout.
  const hang = createServer(() => {});
  await new Promise((r) => hang.listen(0, '127.0.0.1', r));
  try {
    const kr2 = await KmsProxyKeyring.create({ endpoint: `http://127.0.0.1:${hang.address().port}`, keyIds: [plainKey], token: 't', timeoutMs: 200, retries: 1 });
    const t1 = Date.now();
    await assert.rejects(encrypt(te.encode('x'), { keyring: kr2 }), (e) => e.code === 'KMS_UNREACHABLE' && /timed out/.test(e.message));
    assert.ok(Date.now() - t1 >= 400);
  } finally {
    hang.closeAllConnections();
    hang.close();
  }
});

// Last: it stops the proxy.
test('chromium: the proxy stopped gives KMS_UNREACHABLE after retries', async () => {
  const { ct } = await browserEncrypt(jwt('alice'), [plainKey], {}, 'then the proxy stops');
  await proxy.stop();
  const r = await page.evaluate(async ({ endpoint, key, ctB64 }) => {
    const { KmsProxyKeyring, decrypt } = window.pkg;
    let attempts = 0;
    const keyring = await KmsProxyKeyring.create({ endpoint, keyIds: [key], token: () => { attempts++; return 'x'; }, retries: 2, timeoutMs: 2000 });
    try {
      await decrypt(window.unb64(ctB64), { keyring });
      return { ok: true };
    } catch (e) {
      return { code: e.code, attempts };
    }
  }, { endpoint: proxy.url, key: plainKey, ctB64: ct });
  assert.deepEqual(r, { code: 'KMS_UNREACHABLE', attempts: 3 });
});
