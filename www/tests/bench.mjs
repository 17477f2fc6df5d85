// The web demo's performance figures (issue 6), in headless Chromium (playwright-core,
// /usr/bin/chromium), against the real services on loopback (services.mjs):
//   - alice signs in through the UI, uploads a generated file through the file chooser and
//     downloads it with the Download button; each transfer's throughput is the UI's own figure
//     (the transfer row's data-ms: from the Worker's start to its 'done', the whole message
//     verified), checked by the SHA-256 of the file the browser saved;
//   - in the same browser run, bench.html's benchmark (bench.js, in a Worker like the transfers)
//     measures the package's encryptStream on a buffer of the same size (up to 1 GiB), before
//     the first transfer and after each download; the ratios use the fastest of those runs;
//   - while the transfers run, the memory of the tab is sampled every 100 ms from /proc: the RSS
//     of the tab's renderer process (its dedicated Workers are threads of that process), found
//     by making the page spin and seeing whose CPU time moves; the browser process (which holds
//     Blob data), the network service and the sum over every Chromium process are reported too.
// Env: DEMO_BENCH_MIB (file size, default 1024), DEMO_BENCH_REPS (upload+download rounds,
// default 1), DEMO_BENCH_REF_MIB (benchmark size, default min(file, 1024)), DEMO_BENCH_STORE_ONLY=0
// (skip the paths-alone reference: the same bytes uploaded, fetched and saved without encryption).
// Run through scripts/bench-demo.sh. Exit status 1 if a transfer fails or a hash differs; the
// goals (≥ 50 % of encryptStream, < 300 MiB) are reported, not enforced.
import { chromium } from 'playwright-core';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, openSync, writeSync, readSync, closeSync, readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo } from './services.mjs';

const MiB = 1 << 20;
const MB = 1e6;
const FILE_MIB = Number(process.env.DEMO_BENCH_MIB ?? 1024);
const REPS = Number(process.env.DEMO_BENCH_REPS ?? 1);
const REF_MIB = Number(process.env.DEMO_BENCH_REF_MIB ?? Math.min(FILE_MIB, 1024));
const STORE_ONLY = process.env.DEMO_BENCH_STORE_ONLY !== '0';
// How downloads are saved: 'fs' (default; what Chromium users get: File System Access, here with
// a picker that returns a file of the origin private file system, since headless Chromium's
// real picker cannot be answered) or 'blob' (the fallback: a Blob and <a download>).
const SAVE = process.env.DEMO_BENCH_SAVE ?? 'fs';
const SLICE = 64 * MiB;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const log = (s) => console.log(s);
const load = () => loadavg().map((x) => x.toFixed(2)).join(', ');

// ---- /proc -----------------------------------------------------------------------------

const procStat = (pid) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) }; // utime + stime, clock ticks
  } catch { return null; }
};
const procStatus = (pid) => {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
  } catch { return null; }
};
// Chromium rewrites its argv: the arguments come back joined by spaces, not NULs.
const cmdline = (pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/); } catch { return []; } };

/** Chromium processes under this Node process: [{pid, type}] (type: browser, renderer, gpu-process, utility:<sub>, zygote). */
const chromiumProcs = () => descendants().filter((p) => p.chromium);

/** Every process under this Node process: [{pid, type, chromium}]; type for the others: the program's name. */
function descendants() {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(d);
    if (st) (kids.get(st.ppid) ?? kids.set(st.ppid, []).get(st.ppid)).push(Number(d));
  }
  const out = [];
  const walk = (pid) => {
    for (const k of kids.get(pid) ?? []) {
      const c = cmdline(k);
      if (/chrom/.test(c[0] ?? '')) {
        const t = c.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
        const sub = c.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
        out.push({ pid: k, chromium: true, type: sub ? `utility:${sub.replace(/\.mojom\./, '.')}` : t });
      } else {
        const prog = (c[0] ?? '').split('/').pop();
        out.push({ pid: k, chromium: false, type: prog === 'node' ? `node ${(c[1] ?? '').split('/').pop()}` : prog });
      }
      walk(k);
    }
  };
  walk(process.pid);
  return out;
}

/** The renderer process of `page`: the one whose CPU time moves while the page spins. */
async function rendererOf(page) {
  const rs = chromiumProcs().filter((p) => p.type === 'renderer');
  const before = new Map(rs.map((p) => [p.pid, procStat(p.pid)?.cpu ?? 0]));
  await page.evaluate(() => { const t = performance.now(); while (performance.now() - t < 1000); });
  const moved = rs.map((p) => ({ pid: p.pid, d: (procStat(p.pid)?.cpu ?? 0) - before.get(p.pid) })).sort((a, b) => b.d - a.d);
  if (!moved.length || moved[0].d < 10 || (moved[1] && moved[1].d > moved[0].d / 2)) {
    throw new Error(`cannot tell the tab's renderer: ${JSON.stringify(moved)}`);
  }
  return moved[0].pid;
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

/** Sample memory every 100 ms until stop(): peaks of the tab renderer, by type, and in total;
 *  and the CPU seconds each process type (Chromium's and the services') used meanwhile. */
function sampler(tabPid) {
  const peak = { tab: null, byType: {}, total: 0, cpu: {} };
  const cpu0 = new Map(descendants().map((p) => [p.pid, procStat(p.pid)?.cpu ?? 0]));
  const tick = () => {
    let total = 0;
    const byType = {};
    for (const p of chromiumProcs()) {
      const m = procStatus(p.pid);
      if (!m) continue;
      total += m.rss;
      byType[p.type] = (byType[p.type] ?? 0) + m.rss;
      if (p.pid === tabPid && (!peak.tab || m.rss > peak.tab.rss)) peak.tab = m;
    }
    for (const [t, v] of Object.entries(byType)) peak.byType[t] = Math.max(peak.byType[t] ?? 0, v);
    peak.total = Math.max(peak.total, total);
  };
  tick();
  const timer = setInterval(tick, 100);
  const t0 = Date.now();
  return {
    stop() {
      clearInterval(timer);
      tick();
      for (const p of descendants()) {
        const t = p.pid === tabPid ? 'tab renderer' : p.type;
        const d = ((procStat(p.pid)?.cpu ?? 0) - (cpu0.get(p.pid) ?? 0)) / CLK_TCK;
        peak.cpu[t] = Math.round(((peak.cpu[t] ?? 0) + d) * 10) / 10;
      }
      peak.cpu.wall = Math.round((Date.now() - t0) / 100) / 10;
      return peak;
    },
  };
}

// ---- the file ------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'kms-demo-bench-'));
const name = `bench-${FILE_MIB}MiB.bin`;
const srcPath = join(work, name);
const plainSha = (() => {
  const sha = createHash('sha256');
  const fd = openSync(srcPath, 'w');
  const chunk = Buffer.alloc(16 * MiB);
  for (let left = FILE_MIB * MiB; left > 0; left -= chunk.length) {
    const c = chunk.subarray(0, Math.min(chunk.length, left));
    randomFillSync(c);
    sha.update(c);
    writeSync(fd, c);
  }
  closeSync(fd);
  return sha.digest('hex');
})();
/** SHA-256 of each 64 MiB slice of the source file (compared with the file saved in the page). */
const srcSlices = () => {
  const fd = openSync(srcPath, 'r');
  const buf = Buffer.alloc(SLICE);
  const out = [];
  for (let n; (n = readSync(fd, buf, 0, SLICE, null)) > 0;) out.push(createHash('sha256').update(buf.subarray(0, n)).digest('hex'));
  closeSync(fd);
  return out;
};
const savedSlices = (page, fileName) => page.evaluate(async ({ fileName, SLICE }) => {
  const f = await (await (await navigator.storage.getDirectory()).getFileHandle(fileName)).getFile();
  const out = [];
  for (let o = 0; o < f.size; o += SLICE) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await f.slice(o, o + SLICE).arrayBuffer()));
    out.push(Array.from(d, (b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return out;
}, { fileName, SLICE });
const fileSha = (path) => new Promise((resolve, reject) => {
  const h = createHash('sha256');
  createReadStream(path, { highWaterMark: 4 * MiB }).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
});

// ---- run -------------------------------------------------------------------------------

const demo = await startDemo();
const loadStart = load();
log(`# ${FILE_MIB} MiB file, ${REPS} round(s), benchmark ${REF_MIB} MiB; load average at start ${loadStart}`);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };
const res = { fileMiB: FILE_MIB, refMiB: REF_MIB, reps: REPS, ref: [], store: [], uploads: [], downloads: [], memory: [] };
let failed = false;

async function refBench(when) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${demo.www}/bench.html`);
  const r = await page.evaluate((mib) => window.__runBench({ mib, reps: 1, where: 'worker',
    only: ['rawEncrypt', 'encryptStream_webcrypto', 'decryptStream_webcrypto'] }), REF_MIB);
  await ctx.close();
  const row = { when, rawEncrypt: r.cases.rawEncrypt.mbps, encryptStream: r.cases.encryptStream_webcrypto.mbps, decryptStream: r.cases.decryptStream_webcrypto.mbps };
  res.ref.push(row);
  log(`bench.js ${when}: encryptStream ${row.encryptStream} MB/s, decryptStream ${row.decryptStream} MB/s, raw AES-GCM encrypt ${row.rawEncrypt} MB/s (load ${load()})`);
}

// The paths alone, with no encryption and no key service, from a Worker of a page of the
// demo's origin in the transfers' browser profile, run before the first round and after the
// last: (1) the upload path: the same number of random bytes as 32 MiB parts staged in
// origin-private files, two in flight (as worker.js and stage.js send them), then completion;
// (2) a GET of that object drained through a BYOB reader; (3) the save path: the same number of
// bytes written into a File System Access file (origin-private, as the transfers' picker gives)
// in 8 MiB writes, then close(). Each bounds what the UI's transfer over it can reach.
const PATHS_WORKER = `
onmessage = async ({ data: { blob, mib, token } }) => {
  try {
    const H = { Authorization: 'Bearer ' + token };
    const base = blob + '/o/alice/storeonly' + Date.now() + '.d';
    const PART = 32 << 20;
    const part = new Uint8Array(PART);
    for (let i = 0; i < part.length; i += 65536) crypto.getRandomValues(part.subarray(i, i + 65536));
    const total = mib * 1048576;
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('bench-paths', { create: true });
    const slots = [];
    for (let i = 0; i < 3; i++) slots.push(await dir.getFileHandle('part-' + i, { create: true }));
    const t0 = performance.now();
    const { uploadId } = await (await fetch(base + '?uploads', { method: 'POST', headers: H })).json();
    const inFlight = [];
    for (let n = 1, off = 0; off < total; n++, off += PART) {
      const f = slots[n % 3];
      const h = await f.createSyncAccessHandle();
      h.truncate(0);
      h.write(part.subarray(0, Math.min(PART, total - off)), { at: 0 });
      h.close();
      const body = await f.getFile();
      inFlight.push(fetch(base + '?uploadId=' + uploadId + '&partNumber=' + n, { method: 'PUT', headers: H, body }).then((x) => { if (!x.ok) throw new Error('part ' + x.status); }));
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const t1 = performance.now();
    const c = await fetch(base + '?uploadId=' + uploadId + '&complete', { method: 'POST', headers: H });
    if (!c.ok) throw new Error('complete ' + c.status);
    const t2 = performance.now();
    const g = await fetch(base, { headers: H });
    let got = 0;
    let buf = new ArrayBuffer(1 << 20);
    for (const rd = g.body.getReader({ mode: 'byob' }); ;) {
      const { done, value } = await rd.read(new Uint8Array(buf));
      if (done) break;
      got += value.length;
      buf = value.buffer;
    }
    const t3 = performance.now();
    await fetch(base, { method: 'DELETE', headers: H });
    if (got !== total) throw new Error('GET ' + got + ' bytes');
    const out = await dir.getFileHandle('save', { create: true });
    const w = await out.createWritable();
    const bufs = [part.subarray(0, 8 << 20), part.subarray(8 << 20, 16 << 20)];
    let pending = Promise.resolve();
    for (let off = 0, i = 0; off < total; off += 8 << 20, i ^= 1) {
      await pending;
      pending = w.write(bufs[i].subarray(0, Math.min(8 << 20, total - off)));
    }
    await pending;
    await w.close();
    const t4 = performance.now();
    await root.removeEntry('bench-paths', { recursive: true });
    postMessage({ partsMs: t1 - t0, completeMs: t2 - t1, getMs: t3 - t2, saveMs: t4 - t3 });
  } catch (e) {
    postMessage({ error: String(e) });
  }
};`;
async function storeOnly(ctx, when) {
  const tr = await fetch(`${demo.idp}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: demo.passwords.alice }) });
  const { token } = await tr.json();
  const page = await ctx.newPage();
  await page.goto(`${demo.www}/bench.html`);
  const r = await page.evaluate(({ code, args }) => new Promise((resolve) => {
    const w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    w.onmessage = (e) => { w.terminate(); resolve(e.data); };
    w.onerror = (e) => resolve({ error: e.message });
    w.postMessage(args);
  }), { code: PATHS_WORKER, args: { blob: demo.blob, mib: FILE_MIB, token } }).finally(() => page.close());
  if (r.error) {
    log(`paths alone ${when}: failed (${r.error}); an off-the-record profile's OPFS quota is small`);
    return;
  }
  const mbps = (ms) => Math.round((FILE_MIB * MiB) / MB / (ms / 1000));
  const row = { when, uploadMbps: mbps(r.partsMs + r.completeMs), partsMbps: mbps(r.partsMs), completeMs: Math.round(r.completeMs), getMbps: mbps(r.getMs), saveMbps: mbps(r.saveMs) };
  res.store.push(row);
  log(`paths alone ${when}: upload ${row.uploadMbps} MB/s (parts ${row.partsMbps} MB/s + completion ${row.completeMs} ms), GET ${row.getMbps} MB/s, save into a File System Access file ${row.saveMbps} MB/s (load ${load()})`);
}

try {
  await refBench('before the transfers');

  // The File System Access path writes to the origin private file system, whose quota in an
  // off-the-record context (browser.newContext) is a small share of memory: a persistent profile.
  const ctx = SAVE === 'fs'
    ? await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'kms-demo-bench-profile-')), {
      executablePath: '/usr/bin/chromium', headless: true, args: ARGS, acceptDownloads: true, viewport: { width: 1100, height: 800 } })
    : await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  await ctx.addInitScript((mode) => {
    window.showSaveFilePicker = mode !== 'fs' ? undefined
      : async ({ suggestedName }) => (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
  }, SAVE);
  if (STORE_ONLY) await storeOnly(ctx, 'before the transfers');
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log(`  pageerror: ${e.message}`));
  await page.goto(demo.www, { timeout: 90000 });
  await page.waitForSelector('#login:not([hidden])', { timeout: 90000 });
  await page.selectOption('#username', 'alice');
  await page.fill('#password', demo.passwords.alice);
  await page.click('#signin');
  await page.waitForSelector('#app:not([hidden])');
  const tabPid = await rendererOf(page);
  const base = procStatus(tabPid);
  log(`tab renderer pid ${tabPid}, RSS after sign-in ${(base.rss / MiB).toFixed(0)} MiB; processes: ${chromiumProcs().map((p) => `${p.pid}:${p.type}`).join(' ')}`);
  res.tabBaselineMiB = Math.round(base.rss / MiB);

  for (let rep = 1; rep <= REPS; rep++) {
    // Upload through the file chooser (a click on the drop zone).
    let mem = sampler(tabPid);
    let t0 = Date.now();
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#drop')]);
    await chooser.setFiles(srcPath);
    await page.waitForSelector('#transfers li:nth-child(1)[data-op="upload"][data-state]', { timeout: 1800000 });
    const up = await page.$('#transfers li:nth-child(1)');
    const upState = await up.getAttribute('data-state');
    assert(upState === 'done', `upload ${upState}: ${await page.textContent('#error')}`);
    const upMs = Number(await up.getAttribute('data-ms'));
    const upWall = Date.now() - t0;
    const stalls = await up.getAttribute('data-read-stalls');
    if (stalls) log(`upload ${rep}: ${stalls} BYOB file read(s) never resolved and were resumed from their offset`);
    let peak = mem.stop();
    res.uploads.push({ ms: upMs, mbps: Math.round((FILE_MIB * MiB) / MB / (upMs / 1000)), wallMs: upWall });
    res.memory.push({ phase: `upload ${rep}`, ...peak });
    log(`upload ${rep}: ${upMs} ms in the UI = ${res.uploads.at(-1).mbps} MB/s (wall ${upWall} ms); peak tab RSS ${(peak.tab.rss / MiB).toFixed(0)} MiB (load ${load()})`);

    // Download with the file's Download button; the browser saves it; hash the saved file.
    const rowSel = `#files tr:has(td.fname:text-is("${name}"))`;
    await page.waitForSelector(rowSel, { timeout: 120000 });
    const oids = await page.$$eval(rowSel, (rs) => rs.map((r) => r.dataset.oid));
    mem = sampler(tabPid);
    t0 = Date.now();
    const dlEvent = SAVE === 'fs' ? null : page.waitForEvent('download', { timeout: 1800000 });
    await page.click(`#files tr[data-oid="${oids[0]}"] button.dl`);
    const dl = SAVE === 'fs' ? null : await dlEvent;
    const path = dl ? await dl.path() : null; // resolves when the browser has written the whole file
    await page.waitForSelector('#transfers li:nth-child(1)[data-op="download"][data-state]', { timeout: 1800000 });
    const dlWall = Date.now() - t0;
    peak = mem.stop();
    const down = await page.$('#transfers li:nth-child(1)');
    assert((await down.getAttribute('data-state')) === 'done', `download ${await down.getAttribute('data-state')}: ${await page.textContent('#error')}`);
    const dlMs = Number(await down.getAttribute('data-ms'));
    res.downloads.push({ ms: dlMs, mbps: Math.round((FILE_MIB * MiB) / MB / (dlMs / 1000)), wallMs: dlWall, save: SAVE });
    res.memory.push({ phase: `download ${rep} (${SAVE})`, ...peak });
    log(`download ${rep} (${SAVE}): ${dlMs} ms in the UI = ${res.downloads.at(-1).mbps} MB/s (until saved: ${dlWall} ms); peak tab RSS ${(peak.tab.rss / MiB).toFixed(0)} MiB, browser process ${(peak.byType.browser / MiB).toFixed(0)} MiB, all Chromium ${(peak.total / MiB).toFixed(0)} MiB (load ${load()})`);
    if (dl) {
      const got = await fileSha(path);
      assert(got === plainSha, `SHA-256 of the saved file ${got} != ${plainSha}`);
      log(`download ${rep}: SHA-256 of the saved file matches (${got.slice(0, 16)}…)`);
      await dl.delete();
    } else {
      const got = await savedSlices(page, name);
      assert(JSON.stringify(got) === JSON.stringify(srcSlices()), 'the saved file differs from the source');
      log(`download ${rep}: the SHA-256 of each 64 MiB slice of the saved file matches (${got.length} slices)`);
      await page.evaluate((n) => navigator.storage.getDirectory().then((d) => d.removeEntry(n)), name);
    }

    await refBench(`after round ${rep}`);
  }
  await page.close();
  if (STORE_ONLY) await storeOnly(ctx, 'after the transfers');
  await ctx.close();
} catch (e) {
  failed = true;
  log(`FAIL: ${e.stack ?? e}`);
} finally {
  await browser.close();
  await demo.stop();
  // scripts/demo-init.sh leaves the kms-proxy it runs for a moment behind (its coproc's pid is
  // the subshell's): stop that process of this run, found by its config path.
  for (const d of readdirSync('/proc')) {
    if (/^\d+$/.test(d) && cmdline(d).includes(join(demo.state, 'proxy/kms-proxy.toml'))) {
      try { process.kill(Number(d), 'SIGTERM'); log(`# stopped the kms-proxy demo-init.sh left running (pid ${d})`); } catch { /* gone */ }
    }
  }
  rmSync(work, { recursive: true, force: true });
  rmSync(demo.state, { recursive: true, force: true });
}

// ---- summary -----------------------------------------------------------------------------

const mib = (b) => (b ? `${Math.round(b / MiB)} MiB` : '-');
if (res.ref.length && res.uploads.length) {
  const enc = Math.max(...res.ref.map((r) => r.encryptStream));
  const bestUp = Math.max(...res.uploads.map((u) => u.mbps));
  const bestDown = Math.max(0, ...res.downloads.map((u) => u.mbps));
  res.ratios = { upload: Math.round((bestUp / enc) * 100) / 100, download: Math.round((bestDown / enc) * 100) / 100 };
  log('');
  log(`| ${FILE_MIB} MiB, same browser run | MB/s | vs encryptStream (${enc} MB/s, fastest of ${res.ref.length} runs) |`);
  log('|---|--:|--:|');
  log(`| package: encryptStream, ${REF_MIB} MiB in a Worker (each run) | ${res.ref.map((r) => r.encryptStream).join(' / ')} | 1 |`);
  log(`| package: decryptStream (each run) | ${res.ref.map((r) => r.decryptStream).join(' / ')} | |`);
  log(`| raw WebCrypto AES-256-GCM, one call (each run) | ${res.ref.map((r) => r.rawEncrypt).join(' / ')} | |`);
  if (res.store.length) {
    const of = (k) => `${res.store.map((r) => r[k]).join(' / ')} | ${(Math.max(...res.store.map((r) => r[k])) / enc).toFixed(2)}`;
    log(`| the upload path alone, no encryption: OPFS-staged 32 MiB parts, 2 in flight, incl. completion (before / after) | ${of('uploadMbps')} |`);
    log(`| of which the parts alone (completion: ${res.store.map((r) => r.completeMs).join(' / ')} ms) | ${of('partsMbps')} |`);
    log(`| the store: GET drained through a BYOB reader (before / after) | ${of('getMbps')} |`);
    log(`| the save path alone: File System Access file, 8 MiB writes + close (before / after) | ${of('saveMbps')} |`);
  }
  log(`| UI upload (each round) | ${res.uploads.map((u) => u.mbps).join(' / ')} | **${res.ratios.upload}** (goal ≥ 0.5) |`);
  log(`| UI download (each round) | ${res.downloads.map((u) => u.mbps).join(' / ')} | **${res.ratios.download}** (goal ≥ 0.5) |`);
  log('');
  log(`| memory, peak RSS (tab at sign-in: ${res.tabBaselineMiB} MiB) | tab renderer (page + Workers) | of which anon / shmem | browser process | network service | all Chromium processes |`);
  log('|---|--:|--:|--:|--:|--:|');
  for (const m of res.memory) {
    log(`| ${m.phase} | ${mib(m.tab?.rss)} | ${mib(m.tab?.anon)} / ${mib(m.tab?.shmem)} | ${mib(m.byType.browser)} | ${mib(m.byType['utility:network.NetworkService'])} | ${mib(m.total)} |`);
  }
}
if (res.memory.length) {
  log('');
  log('CPU seconds used during each phase, by process (wall: the phase\'s length):');
  for (const m of res.memory) {
    log(`  ${m.phase}: ${Object.entries(m.cpu).filter(([, v]) => v >= 0.1).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
}
log(`# load average: start ${loadStart}, end ${load()}`);
log(`# json ${JSON.stringify(res)}`);
log(failed ? 'demo bench: FAILED' : 'demo bench: done');
process.exit(failed ? 1 : 0);
