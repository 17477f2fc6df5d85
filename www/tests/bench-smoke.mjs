// Smoke check of /bench.html in headless Chromium: a small run (BENCH_SMOKE_MIB, default 16,
// one repetition) in a Worker and in the page must give a result with every case's throughput
// positive, ratios that match the throughputs, and a drawn chart. Only www/server.mjs is started
// (the page calls no service). Needs the built package (scripts/build-wasm.sh) and
// playwright-core in www/tests/node_modules (www/tests/run.sh installs it).
//   node www/tests/bench-smoke.mjs
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = new URL('../..', import.meta.url).pathname;
const MIB = Number(process.env.BENCH_SMOKE_MIB ?? 16);
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

const assert = (cond, msg) => { if (!cond) throw new Error(msg); };
const tmp = mkdtempSync(join(tmpdir(), 'kms-bench-smoke-'));
// A private copy of the package: other jobs may rebuild target/npm (wait while one does).
const PKG = join(ROOT, 'target/npm/kms-envelope');
for (let i = 0; !existsSync(join(PKG, 'wasm/kms_envelope_bg.wasm')) || !existsSync(join(PKG, 'index.js')); i++) {
  if (i === 600) throw new Error(`no built package in ${PKG} (run scripts/build-wasm.sh)`);
  await new Promise((r) => setTimeout(r, 500));
}
cpSync(PKG, join(tmp, 'pkg'), { recursive: true });
writeFileSync(join(tmp, 'config.json'), '{}');
const server = spawn('node', [join(ROOT, 'www/server.mjs'), '--listen', '127.0.0.1:0', '--pkg', join(tmp, 'pkg'), '--config', join(tmp, 'config.json')],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('www/server.mjs did not start')), 15000);
  createInterface({ input: server.stdout }).on('line', (l) => {
    const m = /listening on (\S+)/.exec(l);
    if (m) { clearTimeout(t); resolve(m[1]); }
  });
  server.on('exit', (c) => reject(new Error(`www/server.mjs exited (${c})`)));
});

let failed = 0;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`  pageerror: ${e.message}`));
  for (const where of ['worker', 'page']) {
    try {
      await page.goto(`${url}/bench.html?auto=1&mib=${MIB}&reps=1&where=${where}`);
      await page.waitForSelector('body[data-state]', { timeout: 300000 });
      const state = await page.getAttribute('body', 'data-state');
      assert(state === 'done', `state ${state}: ${await page.textContent('#error')}`);
      const r = await page.evaluate(() => window.__benchResult);
      assert(r && r.sizeMiB === MIB && r.where === where, `result header: ${JSON.stringify(r)?.slice(0, 200)}`);
      const ids = ['rawEncrypt', 'encryptStream_webcrypto', 'encryptStream_rust', 'rawDecrypt', 'decryptStream_webcrypto', 'decryptStream_rust'];
      for (const id of ids) {
        const c = r.cases[id];
        assert(c && Number.isFinite(c.mbps) && c.mbps > 0 && c.samplesMs.length === 1, `case ${id}: ${JSON.stringify(c)}`);
      }
      const want = Math.round((r.cases.encryptStream_webcrypto.mbps / r.cases.rawEncrypt.mbps) * 100) / 100;
      assert(r.ratios.encryptStream_webcrypto_vs_raw === want, `ratio ${r.ratios.encryptStream_webcrypto_vs_raw} != ${want}`);
      assert(await page.locator('#chart rect').count() === ids.length, 'one bar per case');
      assert(await page.locator('#results tbody tr').count() === ids.length, 'one table row per case');
      console.log(`ok   - bench.html in a ${where}, ${MIB} MiB: ${ids.map((id) => `${id} ${r.cases[id].mbps}`).join(', ')} MB/s`);
    } catch (e) {
      failed++;
      console.log(`FAIL - bench.html in a ${where}: ${e.stack ?? e}`);
    }
  }
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
console.log(failed ? `${failed} failed` : 'bench smoke: 2 passed');
process.exit(failed ? 1 : 0);
