// Runs the shared suite in whatever global scope imports it (page, Worker, Service Worker).
import * as pkg from '/node_modules/kms-envelope/index.js';
import { makeCases } from '/suite.mjs';

const env = (where) => ({
  where,
  fixture: async (rel) => {
    const r = await fetch(`/fixtures/${rel}`);
    if (!r.ok) throw new Error(`fixture ${rel}: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  },
  sink: async (dir, name, { ct, pt, meta }) => {
    for (const [ext, body] of [['ct', ct], ['pt', pt], ['json', JSON.stringify(meta)]]) {
      const r = await fetch(`/sink/${dir}/${name}.${ext}`, { method: 'POST', body });
      if (!r.ok) throw new Error(`sink: ${r.status}`);
    }
  },
});

export async function runAll(where) {
  await pkg.default();
  const results = [];
  for (const c of makeCases(pkg, env(where))) {
    const t0 = performance.now();
    try {
      await c.fn();
      results.push({ name: c.name, ok: true, ms: Math.round(performance.now() - t0) });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: `${e?.name}: ${e?.message}`, ms: Math.round(performance.now() - t0) });
    }
  }
  return results;
}

/** 1 GiB encrypted and decrypted through the streams; returns MB/s. */
export async function big(totalMiB = 1024, backend = 'webcrypto') {
  await pkg.default();
  const keyring = await pkg.RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k', key: new Uint8Array(32).fill(1) });
  const chunk = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const total = totalMiB * (1 << 20);
  let sent = 0;
  const src = new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      c.enqueue(chunk);
      sent += chunk.length;
    },
  }, { highWaterMark: 0 });
  const t0 = performance.now();
  let got = 0;
  let bad = 0;
  const out = src.pipeThrough(pkg.encryptStream({ keyring, backend })).pipeThrough(pkg.decryptStream({ keyring, backend }));
  for (const r = out.getReader(); ; ) {
    const { done, value } = await r.read();
    if (done) break;
    if (value[0] !== chunk[got % chunk.length]) bad++;
    got += value.length;
  }
  const s = (performance.now() - t0) / 1000;
  return { bytes: got, ok: got === total && bad === 0, seconds: s, mbps: total / s / 1e6 };
}
