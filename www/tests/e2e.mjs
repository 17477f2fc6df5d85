// End-to-end test of the web demo in Chromium (playwright-core, /usr/bin/chromium):
// sign-in, encrypted upload through the UI (header and body in objects of their own), the
// store's files on disk hold no 32-byte window of the plaintext (every byte offset of every
// file, exhaustively), no file name and no data key; download with a matching SHA-256; bob
// refused (by the store, then by the key service); alice shares through the UI (a new header
// for bob, the body untouched), bob downloads it, the official Python SDK decrypts the stored
// messages through kms-proxy with each user's token, alice unshares and bob is refused again;
// cancel; a one-byte change on disk reported as tampering with nothing saved; retry; expiry.
// E2E_MIB (default 300) sets the file size; screenshots go to www/tests/artifacts/.
import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, readdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startDemo } from './services.mjs';

const MIB = Number(process.env.E2E_MIB ?? 300);
const ART = process.env.E2E_ARTIFACTS ?? new URL('./artifacts/', import.meta.url).pathname;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
mkdirSync(ART, { recursive: true });
for (const f of readdirSync(ART)) if (f.endsWith('.png')) rmSync(join(ART, f)); // no stale screenshots

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

// The plaintext: random bytes (incompressible, nothing to find by accident), kept in memory for
// the disk scan and written to disk for the upload.
const name = `quarterly-secret-report-${randomBytes(4).toString('hex')}.bin`;
const srcDir = join(ART, 'files');
rmSync(srcDir, { recursive: true, force: true });
mkdirSync(srcDir, { recursive: true });
const srcPath = join(srcDir, name);
const plain = new Uint8Array(MIB << 20); // its own ArrayBuffer: 4-byte aligned word views below
for (let off = 0; off < plain.length; off += 1 << 20) plain.set(randomBytes(1 << 20), off);
writeFileSync(srcPath, plain);
const plainSha = createHash('sha256').update(plain).digest('hex');


function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

// The files holding object `owner/id` in the blob store's data directory, in order: a plain
// object is `obj/{owner}/{id}`; a composite one (a completed multipart upload) is its parts,
// `cpt/{owner}/{id}/{uploadId}/part-NNNNN`, as its manifest `cmp/{owner}/{id}` lists them.
function storedFiles(root, owner, id) {
  const plain = join(root, 'obj', owner, id);
  try { statSync(plain); return [plain]; } catch { /* composite */ }
  const m = JSON.parse(readFileSync(join(root, 'cmp', owner, id), 'utf8'));
  const parts = m.parts.map((_, i) => join(root, 'cpt', owner, id, m.upload, `part-${String(i + 1).padStart(5, '0')}`));
  const sizes = parts.map((f) => statSync(f).size);
  assert(m.v === 1 && sizes.every((n, i) => n === m.parts[i]) && sizes.reduce((a, n) => a + n, 0) === m.size,
    `${owner}/${id}: the part files match the manifest ${JSON.stringify(m)}`);
  return parts;
}

// The exhaustive plaintext scan. Any 32-byte window of the plaintext contains one whole
// 16-byte-aligned 16-byte block of it, so a stored file holds a 32-byte plaintext window only
// if it holds an aligned block at some byte offset. Every aligned block goes into an
// open-addressing hash table (typed arrays) and into two blocked Bloom filters (2^28 bits
// each, 3 bits per block, over bytes 0-7 and 8-15); every byte offset of every stored file is
// looked up (the filters let about 1 offset in 3000 through to the table, whose random
// accesses are what costs on this machine); a block hit is then checked for a full 32-byte
// window around it.
const F = (a, b) => Math.imul(a ^ Math.imul(b, 0x85ebca6b), 0x9e3779b1) >>> 0; // filter 1: bytes 0-7
const F2 = (a, b) => Math.imul(b ^ Math.imul(a, 0xcc9e2d51), 0x1b873593) >>> 0; // filter 2: bytes 8-15
// The 3 bits of a filter word that a hash sets.
const M = (f) => { const g = Math.imul(f ^ (f >>> 15), 0x2c1b3c6d); return (1 << (g & 31)) | (1 << ((g >>> 5) & 31)) | (1 << ((g >>> 10) & 31)); };
const H = (a, b, c, d) => Math.imul(a ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f), 0x9e3779b1) >>> 0;
const PW = new Uint32Array(plain.buffer, 0, plain.length >>> 2);
const NBLOCKS = plain.length >>> 4;
const TBITS = Math.max(16, Math.ceil(Math.log2(NBLOCKS * 2.5)));
const TMASK = (1 << TBITS) - 1;
const table = new Int32Array(1 << TBITS); // block index + 1; 0 = empty
const filter = new Uint32Array(1 << 23); // 2^28 bits
const filter2 = new Uint32Array(1 << 23);
{
  const t0 = Date.now();
  for (let b = 0; b < NBLOCKS; b++) {
    const f = F(PW[4 * b], PW[4 * b + 1]);
    filter[f >>> 9] |= M(f);
    const f2 = F2(PW[4 * b + 2], PW[4 * b + 3]);
    filter2[f2 >>> 9] |= M(f2);
    let i = H(PW[4 * b], PW[4 * b + 1], PW[4 * b + 2], PW[4 * b + 3]) & TMASK;
    while (table[i] !== 0) i = (i + 1) & TMASK;
    table[i] = b + 1;
  }
  timings.index = `${NBLOCKS} blocks indexed in ${Date.now() - t0} ms`;
}

/** Look one 16-byte block up in the table; a hit is checked for a 32-byte window. */
function probe(buf, label, j, w0, w1, w2, w3) {
  let hits = 0;
  for (let i = H(w0, w1, w2, w3) & TMASK; table[i] !== 0; i = (i + 1) & TMASK) {
    const b = table[i] - 1;
    if (PW[4 * b] !== w0 || PW[4 * b + 1] !== w1 || PW[4 * b + 2] !== w2 || PW[4 * b + 3] !== w3) continue;
    hits++;
    for (let d = 0; d < 16; d++) {
      const fs = j - d; const ps = 16 * b - d;
      if (fs < 0 || ps < 0 || fs + 32 > buf.length || ps + 32 > plain.length) continue;
      let same = true;
      for (let x = 0; x < 32 && same; x++) same = buf[fs + x] === plain[ps + x];
      assert(!same, `a 32-byte plaintext window (plaintext offset ${ps}) is in ${label} at ${fs}`);
    }
  }
  return hits;
}

/** Throws if `buf` holds a 32-byte plaintext window; returns how many 16-byte-only coincidences. */
function scanBuffer(buf, label) {
  let blockHits = 0;
  const CH = 16 << 20;
  const tmp = [0, 1, 2, 3].map(() => new Uint8Array(CH + 16));
  const words = tmp.map((t) => new Uint32Array(t.buffer));
  for (let start = 0; start + 16 <= buf.length; start += CH) {
    const end = Math.min(buf.length, start + CH + 15); // offsets start .. end-16 are looked up here
    for (let a = 0; a < 4; a++) {
      tmp[a].set(buf.subarray(Math.min(start + a, end), end));
      const w = words[a];
      const last = end - 16 - start; // the last offset (relative) whose block fits
      for (let k = 0; 4 * k + a <= last && 4 * k + a < CH; k++) {
        const w0 = w[k]; const w1 = w[k + 1];
        const f = F(w0, w1);
        const m = M(f);
        if ((filter[f >>> 9] & m) !== m) continue;
        const w2 = w[k + 2]; const w3 = w[k + 3];
        const f2 = F2(w2, w3);
        const m2 = M(f2);
        if ((filter2[f2 >>> 9] & m2) !== m2) continue;
        blockHits += probe(buf, label, start + 4 * k + a, w0, w1, w2, w3);
      }
    }
  }
  return blockHits;
}

function scanForPlaintext(files) {
  const nameBytes = [Buffer.from(name, 'utf8'), Buffer.from(name, 'utf16le'), Buffer.from(name.replace(/\.bin$/, ''))];
  let scanned = 0;
  let coincidences = 0;
  for (const f of files) {
    const buf = readFileSync(f);
    scanned += buf.length;
    for (const nb of nameBytes) assert(buf.indexOf(nb) < 0, `the file name is in ${f}`);
    coincidences += scanBuffer(buf, f);
  }
  return { scanned, coincidences };
}

const demo = await startDemo();
console.log(`# services: www ${demo.www} proxy ${demo.proxy} blob ${demo.blob} idp ${demo.idp}; ${MIB} MiB file`);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
/** Upload staging directories left in the page's origin-private file system (www/stage.js). */
const stagingLeft = (page) => page.evaluate(async () => {
  const root = await navigator.storage.getDirectory();
  const top = await root.getDirectoryHandle('kms-envelope-upload-staging').catch(() => null);
  const names = [];
  if (top) for await (const n of top.keys()) names.push(n);
  return names;
});
const shot = (page, n) => page.screenshot({ path: join(ART, `${n}.png`), fullPage: true });

// Saving: `fs` gives the page a File System Access picker that returns a file in the origin
// private file system (headless Chromium's real picker cannot be answered; the writable, the
// swap file and the commit on close() are the real ones); `blob` removes the API, so the page
// saves through a Blob and <a download> as in browsers without it.
async function signIn(user, save = 'blob') {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  await ctx.addInitScript((mode) => {
    if (mode === 'fs') {
      window.showSaveFilePicker = async ({ suggestedName }) => {
        (window.__pickerCalls ??= []).push(suggestedName);
        return (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
      };
    } else {
      window.showSaveFilePicker = undefined;
    }
  }, save);
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
/** Click and wait for the saved file; an error shown by the page instead fails at once. */
async function downloadOf(page, selector, label) {
  const dl = page.waitForEvent('download', { timeout: 600000 });
  await page.click(selector);
  let settled = false;
  const err = page.waitForSelector('#error:not([hidden])', { timeout: 600000 }).then(async () => {
    if (settled) return new Promise(() => {});
    await shot(page, `error-${label}`);
    throw new Error(`the page shows an error instead of saving: ${await page.textContent('#error')}`);
  });
  err.catch(() => {});
  try {
    return await Promise.race([dl, err]);
  } finally {
    settled = true;
  }
}
/** SHA-256 of each 64 MiB slice of a file, and its size: of the source here, of the saved file in the page. */
const SLICE = 64 << 20;
function sliceDigests(buf) {
  const digests = [];
  for (let o = 0; o < buf.length; o += SLICE) digests.push(createHash('sha256').update(buf.subarray(o, o + SLICE)).digest('hex'));
  return { size: buf.length, digests };
}
const srcDigests = sliceDigests(plain);
const savedDigests = (page, fileName) => page.evaluate(async ({ fileName, SLICE }) => {
  let h;
  try { h = await (await navigator.storage.getDirectory()).getFileHandle(fileName); } catch { return null; }
  const f = await h.getFile();
  const digests = [];
  for (let o = 0; o < f.size; o += SLICE) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await f.slice(o, o + SLICE).arrayBuffer()));
    digests.push(Array.from(d, (b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return { size: f.size, digests };
}, { fileName, SLICE });
/** Click Download (File System Access path) and wait until the transfer settles. */
async function saveOf(page, selector, label) {
  const n = await page.$$eval('#transfers li', (l) => l.length);
  await page.click(selector);
  await page.waitForFunction((n) => document.querySelectorAll('#transfers li').length > n, n);
  await page.waitForSelector('#transfers li:nth-child(1)[data-op="download"][data-state]', { timeout: 600000 });
  const st = await page.getAttribute('#transfers li:nth-child(1)', 'data-state');
  if (st !== 'done') await shot(page, `error-${label}`);
  return { state: st, error: st === 'done' ? '' : await page.textContent('#error') };
}

async function errorShown(page, kind) {
  await page.waitForSelector(`#error:not([hidden])[data-kind="${kind}"]`, { timeout: 60000 });
  return page.textContent('#error');
}

let alice;
let bob;
let oid;
const downloads = [];
try {
  await step('alice signs in (a wrong password is refused in plain words)', async () => {
    alice = await signIn('alice', 'fs');
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
    // The parts waited in origin-private files (www/stage.js), which are gone afterwards.
    const staging = await alice.page.getAttribute('#transfers li', 'data-staging');
    assert(staging === 'opfs', `the parts were staged in OPFS files, not memory Blobs: ${staging}`);
    assert((await stagingLeft(alice.page)).length === 0, 'the staging files are removed after the upload');
    const row = await alice.page.waitForSelector(`#files tr:has(td.fname:text-is("${name}"))`);
    oid = await row.getAttribute('data-oid');
    await shot(alice.page, '04-uploaded');
  });

  await step('the blob store\'s files hold no 32-byte window of the plaintext (every offset), nor the file name, nor a data key', async () => {
    const files = walk(demo.blobData);
    // Plain objects under obj/, composite ones (completed multipart uploads) by their manifest
    // under cmp/; the body, uploaded in parts, is composite.
    const ids = files.filter((f) => f.includes('/obj/alice/') || f.includes('/cmp/alice/')).map((f) => f.split('/').pop()).sort();
    assert(JSON.stringify(ids) === JSON.stringify([`${oid}.d`, `${oid}.h`, `${oid}.m`]), `stored objects: ${ids}`);
    assert(files.some((f) => f.endsWith(`/cmp/alice/${oid}.d`)), 'the body is a composite object (completed by reference)');
    const h = statSync(join(demo.blobData, 'obj/alice', `${oid}.h`)).size;
    assert(h > 100 && h < 4096, `the header object is small (${h} bytes)`);
    timings.headerBytes = h;
    const d = storedFiles(demo.blobData, 'alice', `${oid}.d`).reduce((a, f) => a + statSync(f).size, 0);
    assert(d > MIB * 1048576, `the stored message (${d}) is longer than the plaintext`);
    const t0 = Date.now();
    // The data keys, from the page's test hook (uploads of the file and of its metadata).
    const keys = (await alice.page.evaluate(() => window.__testDataKeys ?? [])).map((k) => Buffer.from(k));
    assert(keys.length === 2 && keys.every((k) => k.length === 32), `data keys from the test hook: ${keys.length}`);
    for (const f of files) {
      const buf = readFileSync(f);
      for (const k of keys) assert(buf.indexOf(k) < 0 && buf.indexOf(Buffer.from(k.toString('base64'))) < 0, `a data key is in ${f}`);
    }
    const { scanned, coincidences } = scanForPlaintext(files);
    timings.scan = `every offset of ${files.length} files, ${scanned} bytes, in ${Date.now() - t0} ms (${coincidences} 16-byte coincidences; ${timings.index})`;
    // The scan finds what it looks for: the plaintext file, and one 32-byte window at an
    // unaligned plaintext offset hidden at an odd offset of random bytes.
    const trips = (buf) => { try { scanBuffer(buf, 'probe'); return false; } catch { return true; } };
    assert(trips(readFileSync(srcPath)), 'the scan finds the plaintext file');
    const probe = randomBytes(1 << 20);
    const at = plain.length - 4099;
    probe.set(plain.subarray(at, at + 32), 777_777);
    assert(trips(probe), 'the scan finds a single unaligned 32-byte window');
    probe.set(randomBytes(32), 777_777);
    probe.set(plain.subarray(at, at + 31), 777_777);
    assert(!trips(probe), 'a 31-byte piece is not a 32-byte window');
  });

  await step('alice downloads the file: decrypted in a Worker, streamed into a File System Access file, contents match', async () => {
    const t0 = Date.now();
    const r = await saveOf(alice.page, `#files tr[data-oid="${oid}"] button.dl`, 'alice-download');
    assert(r.state === 'done', `download ${r.state}: ${r.error}`);
    const calls = await alice.page.evaluate(() => window.__pickerCalls);
    assert(calls.length === 1 && calls[0] === name, `the picker was asked for ${JSON.stringify(calls)}`);
    const got = await savedDigests(alice.page, name);
    assert(got && JSON.stringify(got) === JSON.stringify(srcDigests), `saved file: ${JSON.stringify(got).slice(0, 200)}`);
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
    assert(objs.objects.length === 3, `objects: ${JSON.stringify(objs)}`);
    assert((await stagingLeft(alice.page)).length === 0, 'the cancelled upload\'s staging files are removed');
  });

  await step('bob cannot download alice\'s file: the store refuses, and with the blob shared the key service refuses', async () => {
    bob = await signIn('bob');
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
    const raw = async (method) => {
      for (const x of ['d', 'h', 'm']) {
        const r = await fetch(`${demo.blob}/o/alice/${oid}.${x}?share=bob`, { method, headers: { Authorization: `Bearer ${tok}` } });
        assert(r.ok, `${method} share: ${r.status}`);
      }
    };
    await raw('POST');
    await bob.page.click('#open');
    await bob.page.waitForSelector('#transfers li:nth-child(1)[data-state="denied"]', { timeout: 60000 });
    msg = await errorShown(bob.page, 'denied');
    assert(/access denied.*key service/i.test(msg), msg);
    await shot(bob.page, '08-bob-denied-by-key-service');
    assert(bobDownloads === 0, 'bob saved nothing');
    await raw('DELETE'); // back to unshared: what follows shares through the UI only
  });

  const bodyFiles = () => storedFiles(demo.blobData, 'alice', `${oid}.d`);
  const bodyStats = () => bodyFiles().map((f) => { const s = statSync(f); return { f, ino: s.ino, mtimeMs: s.mtimeMs, size: s.size }; });
  const bodySha256 = () => { const h = createHash('sha256'); for (const f of bodyFiles()) h.update(readFileSync(f)); return h.digest('hex'); };
  const objFile = (id) => join(demo.blobData, 'obj/alice', id);
  await step('alice shares the file with bob through the UI: a new header for bob, the body does not move', async () => {
    const before = bodyStats();
    const bodySha = bodySha256();
    const row = `#files tr[data-oid="${oid}"]`;
    // Sharing with oneself is refused in plain words.
    await alice.page.fill(`${row} input.to`, 'alice');
    await alice.page.click(`${row} button.share`);
    const msg = await errorShown(alice.page, 'other');
    assert(/already yours/i.test(msg), msg);
    const t0 = Date.now();
    await alice.page.fill(`${row} input.to`, 'bob');
    await alice.page.click(`${row} button.share`);
    await alice.page.waitForSelector('#notice:not([hidden])', { timeout: 60000 });
    await alice.page.waitForSelector(`${row}[data-readers="bob"]`, { timeout: 60000 });
    timings.shareMs = Date.now() - t0;
    assert(/shared .* with bob/i.test(await alice.page.textContent('#notice')), 'the UI says it is shared');
    await shot(alice.page, '09-alice-shared-with-bob');
    const after = bodyStats();
    assert(JSON.stringify(after) === JSON.stringify(before), 'the body object was not rewritten (same part files, inodes, times, sizes)');
    assert(bodySha256() === bodySha, 'the body is unchanged');
    const hb = readFileSync(objFile(`${oid}.h.bob`));
    const ha = readFileSync(objFile(`${oid}.h`));
    assert(!hb.equals(ha) && hb.length > 100 && hb.length < 4096, `bob's header object (${hb.length} bytes) is new and small`);
    // The new objects hold no plaintext window, no file name and no data key either.
    const keys = (await alice.page.evaluate(() => window.__testDataKeys ?? [])).map((k) => Buffer.from(k));
    for (const f of [objFile(`${oid}.h.bob`), objFile(`${oid}.m.bob`)]) {
      const buf = readFileSync(f);
      for (const k of keys) assert(buf.indexOf(k) < 0 && buf.indexOf(Buffer.from(k.toString('base64'))) < 0, `a data key is in ${f}`);
    }
    scanForPlaintext([objFile(`${oid}.h.bob`), objFile(`${oid}.m.bob`)]);
    const tok = await apiToken('alice');
    const acl = async (id) => (await (await fetch(`${demo.blob}/o/alice/${id}?acl`, { headers: { Authorization: `Bearer ${tok}` } })).json()).readers;
    for (const id of [`${oid}.d`, `${oid}.h.bob`, `${oid}.m.bob`]) assert(JSON.stringify(await acl(id)) === '["bob"]', `${id} is shared with bob`);
    for (const id of [`${oid}.h`, `${oid}.m`]) assert(JSON.stringify(await acl(id)) === '[]', `${id} is not shared`);
  });

  await step('bob sees it under "Shared with me" and downloads it: SHA-256 matches', async () => {
    await bob.page.click('#refreshshared');
    const srow = `#shared tr[data-oid="${oid}"][data-owner="alice"]`;
    await bob.page.waitForSelector(`${srow} td.fname:text-is("${name}")`, { timeout: 60000 });
    await shot(bob.page, '10-bob-shared-with-me');
    const t0 = Date.now();
    const d = await downloadOf(bob.page, `${srow} button.dl`, 'bob-download');
    assert(d.suggestedFilename() === name, `saved as ${d.suggestedFilename()}`);
    const got = createHash('sha256').update(readFileSync(await d.path())).digest('hex');
    assert(got === plainSha, `sha256 ${got} != ${plainSha}`);
    timings.bobDownloadWallMs = Date.now() - t0;
    await shot(bob.page, '11-bob-downloaded-shared-file');
  });

  await step('the official Python ESDK (KMS keyring through kms-proxy, bearer JWT) decrypts the stored messages', async () => {
    const py = process.env.KMS_ENVELOPE_PYTHON ?? new URL('../../.venv/bin/python', import.meta.url).pathname;
    const script = new URL('./esdk_decrypt.py', import.meta.url).pathname;
    const run = async (user, ctx, ids) => {
      const out = execFileSync(py, [script, demo.proxy, demo.keyArn, await apiToken(user), JSON.stringify(ctx), ...ids.flatMap((id) => storedFiles(demo.blobData, 'alice', id))],
        { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 600000 });
      return JSON.parse(out.trim().split('\n').pop());
    };
    const t0 = Date.now();
    const a = await run('alice', { owner: 'alice', purpose: 'upload' }, [`${oid}.h`, `${oid}.d`]);
    assert(a.ok && a.sha256 === plainSha && a.bytes === plain.length, `alice's message: ${JSON.stringify(a)}`);
    timings.pythonMs = Date.now() - t0;
    const readerCtx = { owner: 'alice', purpose: 'upload', reader: 'bob' };
    const b = await run('bob', readerCtx, [`${oid}.h.bob`, `${oid}.d`]);
    assert(b.ok && b.sha256 === plainSha && JSON.stringify(b.context) === JSON.stringify(readerCtx), `bob's rewritten message: ${JSON.stringify(b)}`);
    const denied = await run('bob', { owner: 'alice', purpose: 'upload' }, [`${oid}.h`, `${oid}.d`]);
    assert(!denied.ok && /AccessDenied/.test(JSON.stringify(denied.causes)), `bob with alice's header: ${JSON.stringify(denied)}`);
  });

  await step('the key policy holds at the API: nobody re-wraps a data key for himself or for another owner', async () => {
    // The encrypted data key of alice's header: a v2 header is version, suite, message id,
    // context, then the encrypted data keys (provider id, provider info, ciphertext).
    const edkOf = (h) => {
      let p = 1 + 2 + 32;
      const field = () => { const n = h.readUInt16BE(p); const v = h.subarray(p + 2, p + 2 + n); p += 2 + n; return v; };
      field(); // the encryption context
      assert(h.readUInt16BE(p) === 1, 'one encrypted data key');
      p += 2;
      field(); field(); // provider id, provider info
      return field().toString('base64');
    };
    const kms = async (user, op, body) => {
      const r = await fetch(`${demo.proxy}/`, { method: 'POST', body: JSON.stringify(body), headers: {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `TrentService.${op}`, Authorization: `Bearer ${await apiToken(user)}` } });
      const j = await r.json().catch(() => ({}));
      return r.ok ? 'ok' : String(j.__type ?? r.status).split('#').pop();
    };
    const blob = edkOf(readFileSync(objFile(`${oid}.h`)));
    const src = { owner: 'alice', purpose: 'upload' };
    const toBob = { ...src, reader: 'bob' };
    const re = (dst) => ({ CiphertextBlob: blob, SourceEncryptionContext: src, DestinationKeyId: demo.keyArn, DestinationEncryptionContext: dst });
    assert(await kms('bob', 'ReEncrypt', re(toBob)) === 'AccessDeniedException', 'bob re-encrypts alice\'s key for himself');
    assert(await kms('alice', 'ReEncrypt', re({ owner: 'bob', purpose: 'upload' })) === 'AccessDeniedException', 'alice re-encrypts into bob\'s own context');
    assert(await kms('bob', 'Decrypt', { CiphertextBlob: blob, EncryptionContext: src }) === 'AccessDeniedException', 'bob decrypts alice\'s key');
    // Adding reader=bob to the context passes the policy but not the context binding.
    assert(await kms('bob', 'Decrypt', { CiphertextBlob: blob, EncryptionContext: toBob }) === 'InvalidCiphertextException', 'bob decrypts alice\'s key under a reader context');
    assert(await kms('alice', 'ReEncrypt', re(toBob)) === 'ok', 'alice re-encrypts for bob');
    assert(await kms('bob', 'Decrypt', { CiphertextBlob: edkOf(readFileSync(objFile(`${oid}.h.bob`))), EncryptionContext: toBob }) === 'ok', 'bob decrypts his key');
  });

  await step('alice unshares: bob\'s header is deleted, the file leaves his list, and he is refused again', async () => {
    const row = `#files tr[data-oid="${oid}"]`;
    await alice.page.click(`${row} button.unshare[data-reader="bob"]`);
    await alice.page.waitForSelector(`${row}[data-readers=""]`, { timeout: 60000 });
    assert(/no longer shared with bob/i.test(await alice.page.textContent('#notice')), 'the UI says it is unshared');
    await shot(alice.page, '12-alice-unshared');
    for (const id of [`${oid}.h.bob`, `${oid}.m.bob`]) {
      let gone = false;
      try { statSync(objFile(id)); } catch { gone = true; }
      assert(gone, `${id} is deleted`);
    }
    await bob.page.click('#refreshshared');
    await bob.page.waitForSelector('#noshared:not([hidden])', { timeout: 60000 });
    await bob.page.fill('#link', `alice/${oid}`);
    await bob.page.click('#open');
    await bob.page.waitForSelector('#transfers li:nth-child(1)[data-state="denied"]', { timeout: 60000 });
    const msg = await errorShown(bob.page, 'denied');
    assert(/access denied/i.test(msg), msg);
    await shot(bob.page, '13-bob-refused-after-unshare');
    await bob.ctx.close();
  });

  await step('one byte changed on disk: the download fails as tampered, and nothing is saved', async () => {
    const before = downloads.length;
    // The body is composite: one byte of its middle part file.
    const parts = storedFiles(demo.blobData, 'alice', `${oid}.d`);
    const f = parts[Math.floor(parts.length / 2)];
    const buf = readFileSync(f);
    const at = Math.floor(buf.length / 2);
    const fdw = openSync(f, 'r+');
    writeSync(fdw, Buffer.from([buf[at] ^ 0x01]), 0, 1, at);
    closeSync(fdw);
    await alice.page.evaluate((n) => navigator.storage.getDirectory().then((d) => d.removeEntry(n)).catch(() => {}), name);
    await alice.page.click(`#files tr[data-oid="${oid}"] button.dl`);
    const msg = await errorShown(alice.page, 'tamper');
    assert(/tampered/i.test(msg), msg);
    await shot(alice.page, '14-tampered');
    await new Promise((r) => setTimeout(r, 1000));
    assert(downloads.length === before, 'no file was saved through a Blob');
    assert(await savedDigests(alice.page, name) === null, 'no file was left in the File System Access directory');
  });

  await step('the network drops for 12 s during an upload (falling back to memory Blobs at part 3): the UI says so, the upload resumes and completes intact', async () => {
    // Part 2 starts an outage: every part request fails as if the network were gone, for
    // longer than the old fixed retry budget (7.5 s), then the network comes back.
    let cut = 0;
    let outageUntil = 0;
    const cutOnce = async (route) => {
      if (!outageUntil && /partNumber=2\b/.test(route.request().url())) outageUntil = Date.now() + 12000;
      if (Date.now() < outageUntil) { cut++; await route.abort('internetdisconnected'); return; }
      await route.continue().catch(() => {});
    };
    await alice.ctx.route(/partNumber=/, cutOnce);
    // This upload falls back from OPFS files to memory Blobs at part 3, as on a full quota, and
    // the file reading from reused buffers to fresh chunks (test hook; the first upload stayed on
    // the OPFS path).
    await alice.page.evaluate(() => { window.__testStaging = 'fallback'; });
    await alice.page.setInputFiles('#file', srcPath);
    await alice.page.waitForSelector('#transfers li:nth-child(1)[data-outage="yes"]', { timeout: 60000 });
    assert(/network lost/i.test(await alice.page.textContent('#transfers li:nth-child(1) .state')), 'the row says the network is lost');
    await shot(alice.page, '15-network-lost');
    await alice.page.waitForSelector('#transfers li:nth-child(1)[data-state]', { timeout: 600000 });
    await alice.ctx.unroute(/partNumber=/, cutOnce);
    const li = await alice.page.$('#transfers li:nth-child(1)');
    assert((await li.getAttribute('data-state')) === 'done', `state ${await li.getAttribute('data-state')}`);
    assert((await li.getAttribute('data-staging')) === 'memory', `staged in ${await li.getAttribute('data-staging')}`);
    await alice.page.evaluate(() => { delete window.__testStaging; });
    assert(cut >= 2 && Number(await li.getAttribute('data-retried')) >= 2, `cut ${cut}, retried ${await li.getAttribute('data-retried')}`);
    await alice.page.waitForFunction((o) => [...document.querySelectorAll('#files tr[data-oid]')].some((r) => r.dataset.oid !== o), oid);
    const oid2 = await alice.page.$$eval('#files tr[data-oid]', (rs, o) => rs.map((r) => r.dataset.oid).find((x) => x !== o), oid);
    const r = await saveOf(alice.page, `#files tr[data-oid="${oid2}"] button.dl`, 'resumed-download');
    assert(r.state === 'done', `download ${r.state}: ${r.error}`);
    const got = await savedDigests(alice.page, name);
    assert(got && JSON.stringify(got) === JSON.stringify(srcDigests), 'the resumed upload downloads intact');
    await shot(alice.page, '16-resumed-upload');
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
    await shot(alice.page, '17-session-expired');
  });
} catch {
  // reported by step()
} finally {
  await browser.close();
  await demo.stop();
  rmSync(srcDir, { recursive: true, force: true });
}
const mibs = (ms) => (ms ? `${(MIB / (ms / 1000)).toFixed(1)} MiB/s` : '-');
console.log(`# ${MIB} MiB: upload ${timings.uploadMs} ms in the UI (${mibs(timings.uploadMs)}), download+decrypt ${timings.downloadMs} ms (${mibs(timings.downloadMs)}); header object ${timings.headerBytes} bytes; share ${timings.shareMs} ms; bob's download ${timings.bobDownloadWallMs} ms; Python ESDK decrypt ${timings.pythonMs} ms; scan: ${timings.scan}`);
console.log(`# screenshots in ${ART}`);
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
