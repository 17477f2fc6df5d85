// One Worker per transfer: encrypt a File as a stream into a multipart upload, or download
// and decrypt an object as a stream. Messages to the page: progress, done, error.
// A message is stored as two objects: its header `<oid>.h` (the encrypted data key lives
// there) and its body `<oid>.d`, so that sharing writes a new header and never moves the body.
import { encryptStream, decryptStream, encrypt, headerLength } from '/pkg/index.js';
import { kmsProxyKeyring, explain, blobFetch, AppError } from './kms.js';
import { objectNames } from './share.js';
import { writeTarget } from './save.js';

const PART = 8 * 1024 * 1024;
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

function counter(onBytes) {
  let n = 0;
  return new TransformStream({ transform(c, c2) { n += c.byteLength; onBytes(n); c2.enqueue(c); } });
}

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
function backOnline(ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); self.removeEventListener('online', done); ctl.signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    self.addEventListener('online', done);
    ctl.signal.addEventListener('abort', done);
  });
}

async function withRetry(fn) {
  let since = 0;
  for (let i = 0; ; i++) {
    try {
      const r = await fn();
      if (since) self.postMessage({ type: 'resumed' });
      return r;
    } catch (e) {
      if (!(e instanceof AppError && e.kind === 'network') || ctl.signal.aborted) throw e;
      since ||= Date.now();
      if (Date.now() - since > OUTAGE_MS) throw e;
      self.postMessage({ type: 'retrying', message: 'Network lost, retrying...' });
      await backOnline(Math.min(500 * 2 ** i, 5000));
    }
  }
}

async function upload({ file, cfg, token, user, oid }, keyring) {
  const B = (m, p, init) => blobFetch(cfg.blob, token, m, p, { ...init, signal: ctl.signal });
  const base = `/o/${encodeURIComponent(user)}/${oid}`;
  const ct = file.stream()
    .pipeThrough(counter(throttled(file.size)))
    .pipeThrough(encryptStream({ keyring, encryptionContext: { owner: user, purpose: 'upload' }, signal: ctl.signal }));
  const { uploadId } = await (await B('POST', `${base}.d?uploads`)).json();
  const inFlight = [];
  let head = null;
  let header = null;
  let partNo = 1;
  const send = (bytes) => {
    const n = partNo++;
    // A Blob body: Chromium uploads a Blob about 10x faster than the same bytes as a Uint8Array.
    const body = new Blob([bytes]);
    const p = withRetry(() => B('PUT', `${base}.d?uploadId=${uploadId}&partNumber=${n}`, { body }));
    inFlight.push(p);
    return p;
  };
  try {
    const reader = ct.getReader();
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
          send(buf); // the Blob copies the bytes, so the buffer is reused
          fill = 0;
          if (inFlight.length >= 2) await inFlight.shift();
        }
      }
    }
    if (!header) throw new AppError('other', 'The encrypted stream ended before its header.');
    if (fill > 0) send(buf.subarray(0, fill));
    await Promise.all(inFlight);
    await withRetry(() => B('PUT', `${base}.h`, { body: new Blob([header]) }));
    await withRetry(() => B('POST', `${base}.d?uploadId=${uploadId}&complete`));
  } catch (e) {
    await Promise.allSettled(inFlight);
    await blobFetch(cfg.blob, token, 'DELETE', `${base}.d?uploadId=${uploadId}`).catch(() => {});
    if (header) await blobFetch(cfg.blob, token, 'DELETE', `${base}.h`).catch(() => {});
    throw e;
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

/** `head` followed by the chunks of `body` (a ReadableStream), as one stream. */
function prepend(head, body) {
  const r = body.getReader();
  let first = true;
  return new ReadableStream({
    async pull(c) {
      if (first) { first = false; c.enqueue(head); return; }
      const { value, done } = await r.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel(reason) { return r.cancel(reason); },
  });
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
  const plain = prepend(header, res.body)
    .pipeThrough(counter(throttled(total)))
    .pipeThrough(decryptStream({ keyring, encryptionContext: names.context, signal: ctl.signal }));
  // Into a File System Access file (it appears only once every byte has authenticated) or,
  // where there is none, into a Blob the page saves once the whole message has decrypted:
  // either way a tampered file saves nothing (save.js).
  const blob = await writeTarget(plain, target, meta.type);
  self.postMessage({ type: 'done', blob, meta });
}
