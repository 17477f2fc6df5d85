// One Worker per transfer: encrypt a File as a stream into a multipart upload, or download
// and decrypt an object as a stream. Messages to the page: progress, done, error.
// A message is stored as two objects: its header `<oid>.h` (the encrypted data key lives
// there) and its body `<oid>.d`, so that sharing writes a new header and never moves the body.
import { encryptStream, decryptStream, encrypt, headerLength } from '/pkg/index.js';
import { kmsProxyKeyring, explain, blobFetch, AppError } from './kms.js';
import { objectNames } from './share.js';
import { writeTarget } from './save.js';
import { openStager } from './stage.js';

const PART = 32 * 1024 * 1024;
const IN_FLIGHT = 2;
const ctl = new AbortController();
let job = null;

self.onmessage = async ({ data }) => {
  if (data.op === 'cancel') { ctl.abort(); return; }
  job = data;
  const onDataKey = data.cfg.testHooks === true ? (k) => self.postMessage({ type: 'test-data-key', key: Array.from(k) }) : undefined;
  const keyring = kmsProxyKeyring({ proxy: data.cfg.proxy, keyArn: data.cfg.keyArn, token: data.token, onDataKey });
  try {
    if (data.op === 'upload') await upload(data, keyring);
    else await download(data, keyring);
  } catch (e) {
    const err = ctl.signal.aborted ? new AppError('cancelled', 'Cancelled.') : explain(e, keyring);
    self.postMessage({ type: 'error', kind: err.kind, message: err.message });
  }
};

function throttled(total) {
  let last = 0;
  return (n) => {
    const now = performance.now();
    if (now - last > 100 || n === total) { last = now; self.postMessage({ type: 'progress', done: n, total }); }
  };
}

// A dropped connection pauses the transfer instead of failing it: a request that fails for
// network reasons is retried with backoff (0.5 s doubling to 5 s, sooner when the browser
// reports it is back online) for as long as the outage lasts, up to OUTAGE_MS. Parts that
// were stored stay stored; the upload goes on from the part that failed.
const OUTAGE_MS = 10 * 60 * 1000;
function backOnline(ms, signal) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); self.removeEventListener('online', done); signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    self.addEventListener('online', done);
    signal.addEventListener('abort', done);
  });
}

/** `fn` until it succeeds, fails for a reason other than the network, or `signal` aborts. */
async function withRetry(fn, signal = ctl.signal) {
  let since = 0;
  for (let i = 0; ; i++) {
    try {
      const r = await fn();
      if (since) self.postMessage({ type: 'resumed' });
      return r;
    } catch (e) {
      if (!(e instanceof AppError && e.kind === 'network') || signal.aborted) throw e;
      since ||= Date.now();
      if (Date.now() - since > OUTAGE_MS) throw e;
      self.postMessage({ type: 'retrying', message: 'Network lost, retrying...' });
      await backOnline(Math.min(500 * 2 ** i, 5000), signal);
    }
  }
}

async function upload({ file, cfg, token, user, oid, staging }, keyring) {
  const B = (m, p, init) => blobFetch(cfg.blob, token, m, p, { ...init, signal: ctl.signal });
  const base = `/o/${encodeURIComponent(user)}/${oid}`;
  const { uploadId } = await (await B('POST', `${base}.d?uploads`)).json();
  const inFlight = [];
  let head = null;
  let header = null;
  let partNo = 1;
  // Parts go up from files of the origin-private file system (stage.js): one per part in
  // flight and one being filled.
  const testStaging = cfg.testHooks === true ? staging : undefined; // test builds only
  const stager = await openStager(IN_FLIGHT + 1, `${user}-${oid}`, testStaging);
  const es = encryptStream({ keyring, encryptionContext: { owner: user, purpose: 'upload' }, signal: ctl.signal });
  // Parts as memory Blobs are freed only by garbage collections, which the garbage of fresh
  // chunks keeps coming: then no reused buffers (stage.js), also if the stager falls back.
  const feed = stager.kind === 'opfs'
    ? feedFile(file, es.writable, throttled(file.size), () => stager.kind === 'opfs')
    : feedFrom(file.stream(), es.writable, throttled(file.size), 0);
  feed.catch(() => {}); // surfaces through the encrypted stream, and is awaited below
  const ct = es.readable;
  // Part requests stop with the transfer, or as soon as the upload fails for another reason
  // (a part retrying through an outage would otherwise hold the failure up for minutes).
  const partsCtl = new AbortController();
  const stopParts = () => partsCtl.abort();
  ctl.signal.addEventListener('abort', stopParts, { once: true });
  const P = (m, p, init) => blobFetch(cfg.blob, token, m, p, { ...init, signal: partsCtl.signal });
  const send = async (bytes) => {
    const n = partNo++;
    const body = await stager.stage(n, bytes); // a copy: the caller reuses `bytes`
    const p = withRetry(() => P('PUT', `${base}.d?uploadId=${uploadId}&partNumber=${n}`, { body }), partsCtl.signal);
    p.catch(() => {}); // awaited in turn, or settled on the error path
    inFlight.push(p);
  };
  const reader = ct.getReader();
  try {
    const buf = new Uint8Array(PART); // one part buffer, reused
    let fill = 0;
    for (;;) {
      let { value, done } = await reader.read();
      if (done) break;
      if (!header) {
        // The header goes to an object of its own: hold bytes until it is complete.
        head = head ? concat(head, value) : value;
        const n = headerLength(head);
        if (n === null) continue;
        header = head.slice(0, n);
        value = head.subarray(n);
        head = null;
      }
      for (let off = 0; off < value.length;) {
        const k = Math.min(PART - fill, value.length - off);
        buf.set(value.subarray(off, off + k), fill);
        fill += k;
        off += k;
        if (fill === PART) {
          await send(buf);
          fill = 0;
          // Slot n+1 was part n-2's: wait until that part is stored.
          if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
        }
      }
    }
    if (!header) throw new AppError('other', 'The encrypted stream ended before its header.');
    await feed;
    if (fill > 0) await send(buf.subarray(0, fill));
    await Promise.all(inFlight);
    await withRetry(() => B('PUT', `${base}.h`, { body: new Blob([header]) }));
    await withRetry(() => B('POST', `${base}.d?uploadId=${uploadId}&complete`));
  } catch (e) {
    await reader.cancel(e).catch(() => {}); // stops the file reader too
    partsCtl.abort();
    await Promise.allSettled(inFlight);
    await blobFetch(cfg.blob, token, 'DELETE', `${base}.d?uploadId=${uploadId}`).catch(() => {});
    if (header) await blobFetch(cfg.blob, token, 'DELETE', `${base}.h`).catch(() => {});
    throw e;
  } finally {
    ctl.signal.removeEventListener('abort', stopParts);
    self.postMessage({ type: 'staging', kind: stager.kind }); // 'opfs', or 'memory' where it fell back
    await stager.close();
  }
  // The name, type and size travel encrypted in a small object of their own.
  const meta = new TextEncoder().encode(JSON.stringify({ name: file.name, type: file.type, size: file.size, uploaded: Date.now() }));
  const mct = await encrypt(meta, { keyring, encryptionContext: { owner: user, purpose: 'metadata' } });
  await withRetry(() => B('PUT', `${base}.m`, { body: new Blob([mct]) }));
  self.postMessage({ type: 'done' });
}

function concat(a, b) {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/** Write the chunks of `body` (a ReadableStream) into `writable`, then close it; `onBytes` gets the running count, from `n`. */
async function feedFrom(body, writable, onBytes, n) {
  const w = writable.getWriter();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      await w.write(value);
      onBytes((n += value.length));
    }
    await w.close();
  } catch (e) {
    await w.abort(e).catch(() => {});
    await reader.cancel(e).catch(() => {});
    throw e;
  }
}

const STALL_MS = 10_000;
const STALLED = Symbol('stalled');

/**
 * Write `file` into `writable`, then close it, reading through a BYOB reader into two 1 MiB
 * buffers that take turns (a buffer is filled again only after the write of its previous bytes
 * resolved, and the package's streams keep no reference to a chunk after that), so that no
 * fresh buffer per chunk waits for the garbage collector (those raise the tab's memory by
 * hundreds of MiB per GiB). In Chromium 156 a BYOB read of `File.stream()` now and then never
 * resolves: a read that takes longer than STALL_MS is given up and reading goes on from the
 * same offset on a new stream of `file.slice(offset)`. Without BYOB readers, or once `byob()`
 * turns false, fresh chunks.
 */
async function feedFile(file, writable, onBytes, byob) {
  let probe;
  try {
    probe = file.slice(0, 0).stream().getReader({ mode: 'byob' });
  } catch {
    return feedFrom(file.stream(), writable, onBytes, 0);
  }
  probe.cancel().catch(() => {});
  const w = writable.getWriter();
  let reader = null;
  let n = 0;
  try {
    const bufs = [new ArrayBuffer(1 << 20), new ArrayBuffer(1 << 20)];
    const writes = [null, null];
    for (let i = 0; n < file.size && byob();) {
      if (writes[i]) await writes[i];
      reader ??= file.slice(n).stream().getReader({ mode: 'byob' });
      let timer;
      const r = await Promise.race([
        reader.read(new Uint8Array(bufs[i])),
        new Promise((resolve) => { timer = setTimeout(() => resolve(STALLED), STALL_MS); }),
      ]).finally(() => clearTimeout(timer));
      if (r === STALLED) {
        self.postMessage({ type: 'read-stalled' });
        reader.cancel().catch(() => {});
        reader = null;
        bufs[i] = new ArrayBuffer(1 << 20); // the stalled read keeps the old one
        continue;
      }
      if (r.done) throw new AppError('other', 'The file became shorter while it was read.');
      bufs[i] = r.value.buffer; // the read moved the buffer into `value`
      writes[i] = w.write(r.value);
      writes[i].catch(() => {}); // awaited before the buffer is reused, or below
      onBytes((n += r.value.length));
      i ^= 1;
    }
    await Promise.all(writes);
    if (n < file.size) {
      // byob() turned false (parts fell back to memory Blobs): the rest in fresh chunks.
      await reader?.cancel().catch(() => {});
      w.releaseLock();
      return feedFrom(file.slice(n).stream(), writable, onBytes, n);
    }
    await w.close();
  } catch (e) {
    await w.abort(e).catch(() => {});
    await reader?.cancel(e).catch(() => {});
    throw e;
  }
}

async function download({ cfg, token, user, owner, oid, target }, keyring) {
  const B = (m, p, init) => blobFetch(cfg.blob, token, m, p, { ...init, signal: ctl.signal });
  const { decrypt } = await import('/pkg/index.js');
  // The owner reads <oid>.h and <oid>.m; a reader the copies made for them when the file was
  // shared (share.js). A reader who finds none tries the owner's own objects: the store may
  // hand them over, but the key service will not release their key.
  let names = objectNames(owner, oid, user);
  let mres;
  try {
    mres = await B('GET', names.meta);
  } catch (e) {
    if (owner === user || !(e instanceof AppError && (e.kind === 'denied' || e.kind === 'missing'))) throw e;
    names = objectNames(owner, oid, owner);
    mres = await B('GET', names.meta);
  }
  const { plaintext } = await decrypt(new Uint8Array(await mres.arrayBuffer()),
    { keyring, encryptionContext: names.metaContext });
  const meta = JSON.parse(new TextDecoder().decode(plaintext));
  self.postMessage({ type: 'meta', meta });
  const header = new Uint8Array(await (await B('GET', names.header)).arrayBuffer());
  const res = await B('GET', names.body);
  const total = header.length + (Number(res.headers.get('Content-Length')) || 0);
  const onBytes = throttled(total);
  const ds = decryptStream({ keyring, encryptionContext: names.context, signal: ctl.signal });
  // Into a File System Access file (it appears only once every byte has authenticated) or,
  // where there is none, into a Blob the page saves once the whole message has decrypted:
  // either way a tampered file saves nothing (save.js).
  const saved = writeTarget(ds.readable, target, meta.type);
  saved.catch(() => {}); // awaited below
  const feed = (async () => {
    const w = ds.writable.getWriter();
    await w.write(header);
    w.releaseLock();
    onBytes(header.length);
    await feedFrom(res.body, ds.writable, onBytes, header.length);
  })();
  // A failure anywhere errors both ends; the save's error is the one that says why.
  const [fed, out] = await Promise.allSettled([feed, saved]);
  if (out.status === 'rejected') throw out.reason;
  if (fed.status === 'rejected') throw fed.reason;
  self.postMessage({ type: 'done', blob: out.value, meta });
}
