// End-to-end test of the web demo in Chromium (playwright-core, /usr/bin/chromium):
// sign-in, encrypted upload through the UI, the store's files on disk hold no plaintext and
// no file name, download with a matching SHA-256, bob refused (by the store, then by the key
// service), cancel, and a one-byte change on disk reported as tampering with nothing saved.
// E2E_MIB (default 64) sets the file size; screenshots go to www/tests/artifacts/.
import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDemo } from './services.mjs';

const MIB = Number(process.env.E2E_MIB ?? 64);
const ART = process.env.E2E_ARTIFACTS ?? new URL('./artifacts/', import.meta.url).pathname;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
mkdirSync(ART, { recursive: true });

let pass = 0;
let fail = 0;
const timings = {};
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    pass++;
    console.log(`ok   - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    fail++;
    console.log(`FAIL - ${name} (${Date.now() - t0} ms) :: ${e.stack ?? e}`);
    throw e;
  }
}
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

// The plaintext: random bytes (incompressible, nothing to find by accident), written to disk.
const name = `quarterly-secret-report-${randomBytes(4).toString('hex')}.bin`;
const srcDir = join(ART, 'files');
rmSync(srcDir, { recursive: true, force: true });
mkdirSync(srcDir, { recursive: true });
const srcPath = join(srcDir, name);
const sha = createHash('sha256');
const fd = openSync(srcPath, 'w');
const samples = []; // [offset, 32 bytes]
for (let i = 0; i < MIB; i++) {
  const chunk = randomBytes(1 << 20);
  sha.update(chunk);
  writeSync(fd, chunk);
  for (let k = 0; k < 64; k++) {
    const off = Math.floor(Math.random() * ((1 << 20) - 32));
    samples.push(Buffer.from(chunk.subarray(off, off + 32)));
  }
}
closeSync(fd);
const plainSha = sha.digest('hex');

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

// Every 32-byte plaintext window sampled (64 per MiB) is looked for at every offset of every
// stored file: an index of the samples' first 4 bytes, then a full compare on a hit.
function scanForPlaintext(files) {
  const index = new Map();
  for (const s of samples) {
    const k = s.readUInt32LE(0);
    if (!index.has(k)) index.set(k, []);
    index.get(k).push(s);
  }
  const nameBytes = [Buffer.from(name, 'utf8'), Buffer.from(name, 'utf16le'), Buffer.from(name.replace(/\.bin$/, ''))];
  let scanned = 0;
  for (const f of files) {
    const buf = readFileSync(f);
    scanned += buf.length;
    for (const nb of nameBytes) assert(buf.indexOf(nb) < 0, `the file name is in ${f}`);
    for (let i = 0; i + 32 <= buf.length; i++) {
      const cands = index.get(buf.readUInt32LE(i));
      if (cands) for (const c of cands) assert(!buf.subarray(i, i + 32).equals(c), `a 32-byte plaintext window is in ${f} at ${i}`);
    }
  }
  return scanned;
}

const demo = await startDemo();
console.log(`# services: www ${demo.www} proxy ${demo.proxy} blob ${demo.blob} idp ${demo.idp}; ${MIB} MiB file`);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
const shot = (page, n) => page.screenshot({ path: join(ART, `${n}.png`), fullPage: true });

async function signIn(user) {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`  pageerror (${user}): ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.log(`  console (${user}): ${m.text()}`));
  await page.goto(demo.www, { timeout: 90000 });
  await page.waitForSelector('#login:not([hidden])', { timeout: 90000 }).catch(async (e) => {
    await shot(page, `error-${user}-sign-in`);
    throw e;
  });
  return { ctx, page };
}
async function login(page, user) {
  await page.selectOption('#username', user);
  await page.fill('#password', demo.passwords[user]);
  await page.click('#signin');
  await page.waitForSelector('#app:not([hidden])');
}
async function apiToken(user) {
  const r = await fetch(`${demo.idp}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password: demo.passwords[user] }) });
  return (await r.json()).token;
}
async function errorShown(page, kind) {
  await page.waitForSelector(`#error:not([hidden])[data-kind="${kind}"]`, { timeout: 60000 });
  return page.textContent('#error');
}

let alice;
let oid;
const downloads = [];
try {
  await step('alice signs in (a wrong password is refused in plain words)', async () => {
    alice = await signIn('alice');
    await shot(alice.page, '01-sign-in');
    await alice.page.fill('#password', 'wrong-password');
    await alice.page.click('#signin');
    const msg = await errorShown(alice.page, 'login');
    assert(/wrong user name or password/i.test(msg), msg);
    await login(alice.page, 'alice');
    await alice.page.waitForSelector('#nofiles:not([hidden])');
    await shot(alice.page, '02-signed-in-empty');
  });
  alice.page.on('download', (d) => downloads.push(d));

  await step(`alice uploads a ${MIB} MiB file through the UI (Worker, streamed, multipart)`, async () => {
    const t0 = Date.now();
    await alice.page.setInputFiles('#file', srcPath);
    await alice.page.waitForFunction(() => Number(document.querySelector('#transfers li progress')?.value) > 0);
    await shot(alice.page, '03-uploading');
    const stats = await alice.page.textContent('#transfers li .stats');
    assert(/[\d.]+ (B|KiB|MiB) of [\d.]+ MiB · [\d.]+ (B|KiB|MiB)\/s · .+ left/.test(stats), `progress shows bytes, speed and time left: ${stats}`);
    await alice.page.waitForSelector('#transfers li[data-state]', { timeout: 600000 });
    const st = await alice.page.getAttribute('#transfers li', 'data-state');
    assert(st === 'done', `upload state ${st}: ${await alice.page.textContent('#error')}`);
    timings.uploadMs = Number(await alice.page.getAttribute('#transfers li', 'data-ms'));
    timings.uploadWallMs = Date.now() - t0;
    const row = await alice.page.waitForSelector(`#files tr:has(td.fname:text-is("${name}"))`);
    oid = await row.getAttribute('data-oid');
    await shot(alice.page, '04-uploaded');
  });

  await step('the blob store\'s files hold neither the plaintext (sampled 32-byte windows), nor the file name, nor a data key', async () => {
    const files = walk(demo.blobData);
    const ids = files.filter((f) => f.includes('/obj/alice/')).map((f) => f.split('/').pop()).sort();
    assert(JSON.stringify(ids) === JSON.stringify([`${oid}.d`, `${oid}.m`]), `stored objects: ${ids}`);
    const d = statSync(join(demo.blobData, 'obj/alice', `${oid}.d`)).size;
    assert(d > MIB * 1048576, `the stored message (${d}) is longer than the plaintext`);
    const t0 = Date.now();
    // The data keys, from the page's test hook (uploads of the file and of its metadata).
    const keys = (await alice.page.evaluate(() => window.__testDataKeys ?? [])).map((k) => Buffer.from(k));
    assert(keys.length === 2 && keys.every((k) => k.length === 32), `data keys from the test hook: ${keys.length}`);
    for (const f of files) {
      const buf = readFileSync(f);
      for (const k of keys) assert(buf.indexOf(k) < 0 && buf.indexOf(Buffer.from(k.toString('base64'))) < 0, `a data key is in ${f}`);
    }
    const scanned = scanForPlaintext(files);
    timings.scan = `${samples.length} windows over ${scanned} bytes in ${Date.now() - t0} ms`;
    // The scan is able to find a window: the plaintext file itself trips it.
    let tripped = false;
    try { scanForPlaintext([srcPath]); } catch { tripped = true; }
    assert(tripped, 'the scan finds plaintext windows in the plaintext file');
  });

  await step('alice downloads the file: decrypted in a Worker, saved through a Blob, SHA-256 matches', async () => {
    const t0 = Date.now();
    const dl = alice.page.waitForEvent('download', { timeout: 600000 });
    await alice.page.click(`#files tr[data-oid="${oid}"] button.dl`);
    const d = await dl;
    assert(d.suggestedFilename() === name, `saved as ${d.suggestedFilename()}`);
    const path = await d.path();
    const got = createHash('sha256').update(readFileSync(path)).digest('hex');
    assert(got === plainSha, `sha256 ${got} != ${plainSha}`);
    timings.downloadMs = Number(await alice.page.getAttribute('#transfers li[data-op="download"]', 'data-ms'));
    timings.downloadWallMs = Date.now() - t0;
    await shot(alice.page, '05-downloaded');
  });

  await step('an upload can be cancelled; nothing is left in the store', async () => {
    // Parts are held back 1.5 s each (Playwright routing), so the cancel lands mid-upload.
    const slow = async (route) => { await new Promise((r) => setTimeout(r, 1500)); await route.continue().catch(() => {}); };
    await alice.ctx.route(/partNumber=/, slow);
    await alice.page.setInputFiles('#file', srcPath);
    await alice.page.waitForFunction(() => Number(document.querySelector('#transfers li progress')?.value) > 0);
    await alice.page.click('#transfers li button.cancel');
    await alice.page.waitForSelector('#transfers li[data-state="cancelled"]');
    await alice.ctx.unroute(/partNumber=/, slow);
    await shot(alice.page, '06-cancelled');
    const tok = await apiToken('alice');
    await new Promise((r) => setTimeout(r, 500));
    const ups = await (await fetch(`${demo.blob}/o/alice?uploads`, { headers: { Authorization: `Bearer ${tok}` } })).json();
    assert(ups.uploads.length === 0, `open uploads: ${JSON.stringify(ups)}`);
    const objs = await (await fetch(`${demo.blob}/o/alice`, { headers: { Authorization: `Bearer ${tok}` } })).json();
    assert(objs.objects.length === 2, `objects: ${JSON.stringify(objs)}`);
  });

  await step('bob cannot download alice\'s file: the store refuses, and with the blob shared the key service refuses', async () => {
    const bob = await signIn('bob');
    await login(bob.page, 'bob');
    let bobDownloads = 0;
    bob.page.on('download', () => bobDownloads++);
    await bob.page.fill('#link', `alice/${oid}`);
    await bob.page.click('#open');
    let msg = await errorShown(bob.page, 'denied');
    assert(/access denied.*file store/i.test(msg), msg);
    await shot(bob.page, '07-bob-denied-by-store');
    // Alice lets the store hand bob the ciphertext; the key policy still keeps the key from him.
    const tok = await apiToken('alice');
    for (const s of ['d', 'm']) {
      const r = await fetch(`${demo.blob}/o/alice/${oid}.${s}?share=bob`, { method: 'POST', headers: { Authorization: `Bearer ${tok}` } });
      assert(r.ok, `share: ${r.status}`);
    }
    await bob.page.click('#open');
    await bob.page.waitForSelector('#transfers li:nth-child(1)[data-state="denied"]', { timeout: 60000 });
    msg = await errorShown(bob.page, 'denied');
    assert(/access denied.*key service/i.test(msg), msg);
    await shot(bob.page, '08-bob-denied-by-key-service');
    assert(bobDownloads === 0, 'bob saved nothing');
    await bob.ctx.close();
  });

  await step('one byte changed on disk: the download fails as tampered, and nothing is saved', async () => {
    const before = downloads.length;
    const f = join(demo.blobData, 'obj/alice', `${oid}.d`);
    const buf = readFileSync(f);
    const at = Math.floor(buf.length / 2);
    const fdw = openSync(f, 'r+');
    writeSync(fdw, Buffer.from([buf[at] ^ 0x01]), 0, 1, at);
    closeSync(fdw);
    await alice.page.click(`#files tr[data-oid="${oid}"] button.dl`);
    const msg = await errorShown(alice.page, 'tamper');
    assert(/tampered/i.test(msg), msg);
    await shot(alice.page, '09-tampered');
    await new Promise((r) => setTimeout(r, 1000));
    assert(downloads.length === before, 'no file was saved');
  });

  await step('a connection cut during a part upload is retried, and the upload completes intact', async () => {
    let cut = 0;
    const cutOnce = async (route) => {
      if (cut === 0 && /partNumber=2\b/.test(route.request().url())) { cut++; await route.abort('connectionreset'); return; }
      await route.continue().catch(() => {});
    };
    await alice.ctx.route(/partNumber=/, cutOnce);
    await alice.page.setInputFiles('#file', srcPath);
    await alice.page.waitForSelector('#transfers li:nth-child(1)[data-state]', { timeout: 600000 });
    await alice.ctx.unroute(/partNumber=/, cutOnce);
    const li = await alice.page.$('#transfers li:nth-child(1)');
    assert((await li.getAttribute('data-state')) === 'done', `state ${await li.getAttribute('data-state')}`);
    assert(cut === 1 && Number(await li.getAttribute('data-retried')) >= 1, `cut ${cut}, retried ${await li.getAttribute('data-retried')}`);
    await alice.page.waitForFunction((o) => [...document.querySelectorAll('#files tr[data-oid]')].some((r) => r.dataset.oid !== o), oid);
    const oid2 = await alice.page.$$eval('#files tr[data-oid]', (rs, o) => rs.map((r) => r.dataset.oid).find((x) => x !== o), oid);
    const dl = alice.page.waitForEvent('download', { timeout: 600000 });
    await alice.page.click(`#files tr[data-oid="${oid2}"] button.dl`);
    const got = createHash('sha256').update(readFileSync(await (await dl).path())).digest('hex');
    assert(got === plainSha, 'sha256 of the retried upload matches');
    await shot(alice.page, '10-retried-upload');
  });

  await step('an expired session is reported in plain words and asks to sign in again', async () => {
    await alice.page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('session'));
      const [h, p, sig] = s.token.split('.');
      sessionStorage.setItem('session', JSON.stringify({ ...s, token: `${h}.${p}.${sig.slice(0, -4)}AAAA` }));
    });
    await alice.page.reload();
    const msg = await errorShown(alice.page, 'session');
    assert(/session has expired/i.test(msg), msg);
    await alice.page.waitForSelector('#login:not([hidden])');
    await shot(alice.page, '11-session-expired');
  });
} catch {
  // reported by step()
} finally {
  await browser.close();
  await demo.stop();
  rmSync(srcDir, { recursive: true, force: true });
}
const mibs = (ms) => (ms ? `${(MIB / (ms / 1000)).toFixed(1)} MiB/s` : '-');
console.log(`# ${MIB} MiB: upload ${timings.uploadMs} ms in the UI (${mibs(timings.uploadMs)}), download+decrypt ${timings.downloadMs} ms (${mibs(timings.downloadMs)}); scan: ${timings.scan}`);
console.log(`# screenshots in ${ART}`);
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
