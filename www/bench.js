// The package's throughput benchmark, in the browser: encryptStream / decryptStream of N MiB
// (suite 0x0478, 64 KiB frames, 1 MiB input chunks) with each backend, against one raw
// WebCrypto AES-256-GCM call on the same buffer. Cases are interleaved, best of `reps`.
// The rust (wasm) backend runs at about 30 MB/s here, so by default it gets the first
// min(N, 32) MiB of the same buffer (`rustMib`); throughput is per byte either way.
//
// One file, two roles. In a page (bench.html) it draws the form, the table and the chart, and
// runs the benchmark in a module Worker (as the demo's transfers run) or in the page itself.
// In a Worker it waits for {op: 'run', opts} and answers {type: 'progress' | 'result' | 'error'}.
//
// For scripts: window.__runBench(opts) returns the result; bench.html?auto=1&mib=16&reps=1
// runs at load; either way the last result is window.__benchResult (window.__benchError on failure).

const MiB = 1 << 20;
const MB = 1e6;

/** Every case, in the order run; `only` in runBench's options picks a subset. */
export const CASES = [
  { id: 'rawEncrypt', short: 'raw AES-GCM encrypt', label: 'raw WebCrypto AES-256-GCM encrypt (one call)' },
  { id: 'encryptStream_webcrypto', short: 'encryptStream (webcrypto)', label: 'encryptStream, webcrypto backend' },
  { id: 'encryptStream_rust', short: 'encryptStream (rust)', label: 'encryptStream, rust (wasm) backend' },
  { id: 'rawDecrypt', short: 'raw AES-GCM decrypt', label: 'raw WebCrypto AES-256-GCM decrypt (one call)' },
  { id: 'decryptStream_webcrypto', short: 'decryptStream (webcrypto)', label: 'decryptStream, webcrypto backend' },
  { id: 'decryptStream_rust', short: 'decryptStream (rust)', label: 'decryptStream, rust (wasm) backend' },
];

/**
 * Run the benchmark here (page or Worker).
 * opts: { mib = 256, reps = 2, rustMib = min(mib, 32), only: [case ids] (default all), onProgress(text) }.
 * Returns { sizeMiB, reps, where, userAgent, cases: {id: {mbps, sizeMiB, bestMs, samplesMs}}, ratios }.
 */
export async function runBench({ mib = 256, reps = 2, rustMib = Math.min(mib, 32), only, onProgress = () => {} } = {}) {
  const pkg = await import('/pkg/index.js');
  const size = Math.round(mib * MiB);
  const rustSize = Math.min(size, Math.round(rustMib * MiB));
  const ids = new Set(only ?? CASES.map((c) => c.id));
  const cases = CASES.filter((c) => ids.has(c.id));
  if (!cases.length) throw new Error(`no such case: ${[...ids]}`);

  onProgress(`filling ${mib} MiB with random bytes`);
  const buf = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(size, i + 65536)));
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  const keyring = await pkg.RawAesKeyring.create({ keyNamespace: 'bench', keyName: 'k', key: keyBytes });
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aesKey = await crypto.subtle.importKey('raw', keyBytes, 'AES-GCM', false, ['encrypt', 'decrypt']);

  // The input as a stream of 1 MiB chunks, pulled one at a time (as bench-browser.mjs does).
  const chunked = (b) => {
    let off = 0;
    return new ReadableStream({
      pull(c) {
        if (off >= b.length) return c.close();
        c.enqueue(b.subarray(off, off + MiB));
        off += MiB;
      },
    }, { highWaterMark: 0 });
  };
  const drain = async (s) => {
    let n = 0;
    for (const r = s.getReader(); ;) {
      const { done, value } = await r.read();
      if (done) return n;
      n += value.length;
    }
  };

  // Decryption needs messages and a raw ciphertext: made once, untimed.
  const makeMessage = async (b) => {
    const parts = [];
    let n = 0;
    for (const r = chunked(b).pipeThrough(pkg.encryptStream({ keyring })).getReader(); ;) {
      const { done, value } = await r.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
    const m = new Uint8Array(n);
    for (let p = 0, i = 0; i < parts.length; p += parts[i].length, i++) m.set(parts[i], p);
    return m;
  };
  onProgress('making the messages to decrypt');
  const message = ids.has('decryptStream_webcrypto') ? await makeMessage(buf) : null;
  const rustMessage = ids.has('decryptStream_rust') ? await makeMessage(buf.subarray(0, rustSize)) : null;
  let rawCt = null;
  if (ids.has('rawDecrypt')) rawCt = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aesKey, buf));

  const run = {
    rawEncrypt: async () => {
      const out = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aesKey, buf);
      if (out.byteLength !== size + 16) throw new Error('raw encrypt: wrong length');
    },
    rawDecrypt: async () => {
      const out = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, aesKey, rawCt);
      if (out.byteLength !== size) throw new Error('raw decrypt: wrong length');
    },
    encryptStream_webcrypto: () => drain(chunked(buf).pipeThrough(pkg.encryptStream({ keyring, backend: 'webcrypto' }))),
    encryptStream_rust: () => drain(chunked(buf.subarray(0, rustSize)).pipeThrough(pkg.encryptStream({ keyring, backend: 'rust' }))),
    decryptStream_webcrypto: async () => {
      if (await drain(chunked(message).pipeThrough(pkg.decryptStream({ keyring, backend: 'webcrypto' }))) !== size) throw new Error('decryptStream: wrong length');
    },
    decryptStream_rust: async () => {
      if (await drain(chunked(rustMessage).pipeThrough(pkg.decryptStream({ keyring, backend: 'rust' }))) !== rustSize) throw new Error('decryptStream: wrong length');
    },
  };

  const samples = Object.fromEntries(cases.map((c) => [c.id, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const c of cases) {
      onProgress(`run ${rep + 1} of ${reps}: ${c.label}`);
      const t0 = performance.now();
      await run[c.id]();
      samples[c.id].push(performance.now() - t0);
    }
  }
  const out = {};
  for (const c of cases) {
    const bestMs = Math.min(...samples[c.id]);
    const bytes = c.id.endsWith('_rust') ? rustSize : size;
    out[c.id] = { label: c.label, short: c.short, sizeMiB: bytes / MiB, mbps: Math.round(bytes / MB / (bestMs / 1000)), bestMs: Math.round(bestMs), samplesMs: samples[c.id].map(Math.round) };
  }
  const ratio = (a, b) => (out[a] && out[b] ? Math.round((out[a].mbps / out[b].mbps) * 100) / 100 : undefined);
  const ratios = {
    encryptStream_webcrypto_vs_raw: ratio('encryptStream_webcrypto', 'rawEncrypt'),
    encryptStream_rust_vs_raw: ratio('encryptStream_rust', 'rawEncrypt'),
    decryptStream_webcrypto_vs_raw: ratio('decryptStream_webcrypto', 'rawDecrypt'),
    decryptStream_rust_vs_raw: ratio('decryptStream_rust', 'rawDecrypt'),
  };
  for (const k of Object.keys(ratios)) if (ratios[k] === undefined) delete ratios[k];
  return {
    sizeMiB: mib, rustMiB: rustSize / MiB, reps, where: typeof window === 'undefined' ? 'worker' : 'page',
    userAgent: navigator.userAgent, suite: '0x0478', frameLength: 65536, chunk: MiB,
    unit: 'MB/s (10^6 bytes per second), best of reps', cases: out, ratios,
  };
}

/** Run in a fresh module Worker (this file); resolves with the result. */
export function runInWorker(opts, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { type: 'module' });
    w.onmessage = ({ data }) => {
      if (data.type === 'progress') onProgress(data.text);
      else if (data.type === 'result') { w.terminate(); resolve(data.result); }
      else if (data.type === 'error') { w.terminate(); reject(new Error(data.message)); }
    };
    w.onerror = (e) => { w.terminate(); reject(new Error(`Worker failed: ${e.message}`)); };
    w.postMessage({ op: 'run', opts });
  });
}

// ---- Worker role -------------------------------------------------------------------

if (typeof window === 'undefined' && typeof self !== 'undefined') {
  self.onmessage = async ({ data }) => {
    if (data?.op !== 'run') return;
    try {
      const result = await runBench({ ...data.opts, onProgress: (text) => self.postMessage({ type: 'progress', text }) });
      self.postMessage({ type: 'result', result });
    } catch (e) {
      self.postMessage({ type: 'error', message: `${e?.code ? e.code + ': ' : ''}${e?.message ?? e}` });
    }
  };
}

// ---- Page role -----------------------------------------------------------------------

function chart(svg, result) {
  const ns = 'http://www.w3.org/2000/svg';
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const rows = Object.entries(result.cases);
  const max = Math.max(...rows.map(([, c]) => c.mbps), 1);
  const left = 200;
  const width = 760;
  const barW = width - left - 90;
  const h = 28;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${rows.length * h + 30}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', rows.length * h + 30);
  rows.forEach(([id, c], i) => {
    const y = i * h + 4;
    const raw = id.startsWith('raw');
    svg.append(el('text', { x: left - 8, y: y + 16, 'text-anchor': 'end', 'font-size': 13 }, c.short));
    const bar = el('rect', { x: left, y, width: Math.max(1, (c.mbps / max) * barW), height: h - 8, fill: raw ? '#999' : id.endsWith('rust') ? '#d08a2c' : '#2c6fd0' });
    bar.dataset.case = id;
    svg.append(bar);
    svg.append(el('text', { x: left + (c.mbps / max) * barW + 6, y: y + 16, 'font-size': 13 }, `${c.mbps} MB/s`));
  });
  svg.append(el('text', { x: left, y: rows.length * h + 22, 'font-size': 12, fill: '#666' },
    `${result.sizeMiB} MiB (rust backend: ${result.rustMiB} MiB), best of ${result.reps}, in a ${result.where}`));
}

function table(tbody, result) {
  const base = { encryptStream_webcrypto: 'rawEncrypt', encryptStream_rust: 'rawEncrypt', decryptStream_webcrypto: 'rawDecrypt', decryptStream_rust: 'rawDecrypt' };
  tbody.replaceChildren(...Object.entries(result.cases).map(([id, c]) => {
    const tr = document.createElement('tr');
    tr.dataset.case = id;
    const r = base[id] && result.cases[base[id]] ? `${(c.mbps / result.cases[base[id]].mbps).toFixed(2)}×` : id.startsWith('raw') ? '1' : '';
    for (const t of [c.sizeMiB === result.sizeMiB ? c.label : `${c.label} (${c.sizeMiB} MiB)`, `${c.mbps}`, r, c.samplesMs.join(', ')]) {
      const td = document.createElement('td');
      td.textContent = t;
      tr.append(td);
    }
    return tr;
  }));
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') {
  const $ = (s) => document.querySelector(s);
  const q = new URLSearchParams(location.search);
  if (q.has('mib')) $('#mib').value = q.get('mib');
  if (q.has('reps')) $('#reps').value = q.get('reps');
  if (q.has('where')) $('#where').value = q.get('where');

  window.__runBench = async (opts = {}) => {
    const o = { mib: 256, reps: 2, where: 'worker', ...opts };
    const { where, onProgress, ...rest } = o;
    window.__benchResult = undefined;
    window.__benchError = undefined;
    try {
      const result = where === 'page' ? await runBench({ ...rest, onProgress }) : await runInWorker(rest, onProgress);
      window.__benchResult = result;
      return result;
    } catch (e) {
      window.__benchError = String(e?.message ?? e);
      throw e;
    }
  };

  const go = async () => {
    const btn = $('#run');
    btn.disabled = true;
    $('#error').hidden = true;
    $('#status').textContent = 'running…';
    const progress = (t) => { $('#status').textContent = t; };
    try {
      const mib = Number($('#mib').value);
      const reps = Number($('#reps').value);
      const where = $('#where').value;
      const result = await window.__runBench({ mib, reps, where, onProgress: progress });
      chart($('#chart'), result);
      table($('#results tbody'), result);
      $('#results').hidden = false;
      $('#json').textContent = JSON.stringify(result, null, 1);
      $('#status').textContent = `done: ${mib} MiB, best of ${reps}, in a ${where}`;
      document.body.dataset.state = 'done';
    } catch (e) {
      $('#error').textContent = `The benchmark failed: ${e?.message ?? e}`;
      $('#error').hidden = false;
      $('#status').textContent = '';
      document.body.dataset.state = 'error';
    } finally {
      btn.disabled = false;
    }
  };
  $('#form').addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  if (q.get('auto') === '1') go();
}
