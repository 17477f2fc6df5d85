// Where the memory of a 1 GiB stream in a Worker goes (run by hand after pkg-tests/run.sh:
// `node target/pkg-consumer/browser/memory.mjs ours copy webcrypto`). Each mode gets a fresh
// browser, a 32 MiB warm-up, then 1 GiB with the browser's RSS (whole process tree) sampled:
//   ours       encryptStream -> decryptStream (kms-envelope, WebCrypto backend)
//   copy       the same shape without crypto: two stages that each copy every 64 KiB frame
//   webcrypto  two stages of raw WebCrypto AES-GCM, one call per 64 KiB frame
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync } from 'node:fs';
import { serve } from './server.mjs';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(process.env.EXTRA ?? '').split(' ').filter(Boolean)];
function treeRssKiB(pid) {
  const kids = new Map();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { const st = readFileSync(`/proc/${p}/stat`, 'utf8'); const pp = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]); if (!kids.has(pp)) kids.set(pp, []); kids.get(pp).push(Number(p)); } catch {}
  }
  let t = 0; const walk = (q) => { try { const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${q}/status`, 'utf8')); t += m ? Number(m[1]) : 0; } catch {} for (const k of kids.get(q) ?? []) walk(k); };
  walk(pid); return t;
}
const root = new URL('..', import.meta.url).pathname;
for (const mode of process.argv.slice(2)) {
  const bs = await chromium.launchServer({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const b = await chromium.connect(bs.wsEndpoint());
  const server = await serve(root);
  const page = await b.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/browser/memory.html`);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate(() => window.start());
  await page.evaluate((m) => window.go(m, 32), mode);
  await new Promise((r) => setTimeout(r, 500));
  const pid = bs.process().pid; const base = treeRssKiB(pid); let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, treeRssKiB(pid))), 50);
  const r = await page.evaluate((m) => window.go(m, 1024), mode);
  clearInterval(timer);
  console.log(`${mode}: ok=${r.ok} ${r.mbps.toFixed(0)} MB/s peak +${((peak - base) / 1024).toFixed(1)} MiB (base ${(base / 1024).toFixed(0)} MiB)`);
  await b.close(); await bs.close(); server.close();
}
