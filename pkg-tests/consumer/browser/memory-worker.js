// The Worker of memory.mjs: one 1 GiB pipeline per message ({mode, mib}).
import { big } from './runner.js';
const F = 65536;
function frames(mk) {
  // cut 1 MiB chunks into 64 KiB frames, each transformed by mk (async, returns a fresh buffer)
  return new TransformStream({
    async transform(chunk, c) {
      for (let o = 0; o < chunk.length; o += F) c.enqueue(await mk(chunk.subarray(o, o + F)));
    },
  }, { highWaterMark: 1 }, { highWaterMark: 4 });
}
async function run(mode, mib) {
  if (mode === 'ours') return big(mib);
  const chunk = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const total = mib << 20;
  let sent = 0;
  const src = new ReadableStream({ pull(c) { if (sent >= total) return c.close(); c.enqueue(chunk); sent += chunk.length; } }, { highWaterMark: 0 });
  let a, b;
  if (mode === 'copy') {
    a = frames(async (x) => x.slice());
    b = frames(async (x) => x.slice());
  } else {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
    const iv = new Uint8Array(12);
    a = frames(async (x) => new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, x)));
    // decrypt: input frames are 64 KiB + 16
    b = new TransformStream({ async transform(x, c) { c.enqueue(new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, x))); } }, { highWaterMark: 1 }, { highWaterMark: 4 });
  }
  const t0 = performance.now();
  let got = 0;
  for (const r = src.pipeThrough(a).pipeThrough(b).getReader(); ;) { const { done, value } = await r.read(); if (done) break; got += value.length; }
  const s = (performance.now() - t0) / 1000;
  return { ok: got === total, seconds: s, mbps: total / s / 1e6 };
}
onmessage = async (e) => postMessage(await run(e.data.mode, e.data.mib));
