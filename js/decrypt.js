// kms-envelope: decryption. Rust parses and authenticates the header, checks
// the key commitment, then describes each body unit (IV, AAD, lengths,
// sequence numbers, limits); this module opens `ciphertext || tag` with one
// WebCrypto call per frame (or in wasm) and releases a frame only after its
// tag verified.
import * as w from './wasm/kms_envelope.js';
import {
  ensure, convert, isU8, isBlob, isStream, ecPairs, ecObject, optInt, backendOf, policyOf, signalOf,
  checkOptions, keyringHandle, throwIfAborted, collect, importContentKey, aeadOf, ensureSig,
  SIGNED_SUITES,
} from './util.js';

const KIND_FOOTER = 3;
const HEADER_SLICE = 4096;

function decryptParams(opts) {
  checkOptions(opts, 'decrypt');
  return {
    keyring: opts.keyring,
    ec: ecPairs(opts.encryptionContext),
    policy: policyOf(opts),
    unsignedOnly: !!opts.unsignedOnly,
    maxEdks: optInt(opts.maxEncryptedDataKeys, 'maxEncryptedDataKeys', 1, 0xffff),
    maxFrameLength: optInt(opts.maxFrameLength, 'maxFrameLength', 1, 2 ** 36),
    maxBodySize: optInt(opts.maxBodySize, 'maxBodySize', 0, Number.MAX_SAFE_INTEGER),
    backend: backendOf(opts),
    signal: signalOf(opts),
  };
}

/**
 * Queued input chunks; hands out contiguous views, copying only across chunk edges. Between
 * writes it keeps no view of a caller's chunk: `settle()` appends the unconsumed bytes of the
 * callers' chunks (less than one unit) to a buffer of its own, so a caller may reuse a chunk's
 * memory as soon as its write has resolved (a BYOB reader filling the same buffer again). Each
 * byte is copied there at most once, plus once more when a unit ends inside it.
 */
class ByteQueue {
  constructor() {
    this.chunks = [];
    this.off = 0; // into chunks[0]
    this.length = 0;
    this.scratch = new Uint8Array(0);
    this.carry = new Uint8Array(0); // owned; holds the queued bytes from its start after settle()
    this.carryView = null; // chunks[0] after settle(): carry.subarray(0, length)
  }

  /** Own the queued bytes: copy what is left of the callers' chunks after our own tail. */
  settle() {
    const n = this.length;
    if (n === 0) {
      this.chunks = [];
      this.off = 0;
      this.carryView = null;
      return;
    }
    let own = 0;
    let from = 0;
    if (this.carryView !== null && this.chunks[0] === this.carryView) {
      own = this.carryView.length - this.off;
      from = 1;
    }
    if (from === this.chunks.length) return; // nothing of a caller's is queued
    let buf = this.carry;
    if (buf.length < n) {
      buf = new Uint8Array(Math.max(n, buf.length * 2));
      if (own) buf.set(this.carryView.subarray(this.off));
      this.carry = buf;
    } else if (own && this.off > 0) {
      buf.copyWithin(0, this.off, this.off + own); // carryView starts at carry[0]
    }
    let pos = own;
    for (let i = from; i < this.chunks.length; i++) {
      const c = i === 0 ? this.chunks[0].subarray(this.off) : this.chunks[i];
      buf.set(c, pos);
      pos += c.length;
    }
    this.carryView = buf.subarray(0, n);
    this.chunks = [this.carryView];
    this.off = 0;
  }

  push(c) {
    if (c.length) {
      this.chunks.push(c);
      this.length += c.length;
    }
  }

  /** The first n bytes as one view, valid until the next take/peek. */
  view(n) {
    const first = this.chunks[0];
    if (first && first.length - this.off >= n) return first.subarray(this.off, this.off + n);
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    let pos = 0;
    let i = 0;
    let off = this.off;
    while (pos < n) {
      const c = this.chunks[i++];
      const k = Math.min(c.length - off, n - pos);
      this.scratch.set(c.subarray(off, off + k), pos);
      pos += k;
      off = 0;
    }
    return this.scratch.subarray(0, n);
  }

  drop(n) {
    this.length -= n;
    while (n > 0) {
      const left = this.chunks[0].length - this.off;
      if (n < left) {
        this.off += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.off = 0;
    }
  }
}

/** Opens one message. */
class Opener {
  constructor(p, onHeader) {
    this.p = p;
    this.onHeader = onHeader;
    this.dec = new w.WasmDecryptor(p.ec, p.policy, p.unsignedOnly, p.maxEdks, p.maxFrameLength, p.maxBodySize);
    this.q = new ByteQueue();
    this.headerDone = false;
    this.unit = null;
    this.info = null;
  }

  /** Feed bytes; resolves true once the header is authenticated. */
  async pushHeader(chunk) {
    let off = 0;
    while (off < chunk.length) {
      const piece = chunk.subarray(off, off + HEADER_SLICE);
      const n = this.dec.push_header(piece);
      if (n === undefined) {
        off += piece.length;
        continue;
      }
      this.q.push(chunk.subarray(off + n));
      await this.materials();
      return true;
    }
    return false;
  }

  async materials() {
    // The footer's signature is checked by the signature module: load it now.
    if (SIGNED_SUITES.includes(this.dec.suite())) await ensureSig();
    const kh = keyringHandle(this.p.keyring);
    try {
      const m = await this.dec.request_materials(kh.h);
      this.dec.supply_materials(m);
    } catch (e) {
      throw kh.error ?? e;
    } finally {
      kh.release();
    }
    this.headerDone = true;
    this.signed = this.dec.is_signed();
    this.backend = this.p.backend;
    if (this.backend !== 'rust') {
      this.aead = aeadOf(this.backend);
      this.key = await importContentKey(this.aead, this.dec.content_key(), 'decrypt');
      if (!this.key) this.backend = 'rust'; // no AES-192 in Chromium's WebCrypto
    }
    this.info = {
      encryptionContext: ecObject(this.dec.encryption_context()),
      suite: this.dec.suite(),
      keyIds: this.dec.key_ids(),
    };
    this.onHeader?.(this.info);
  }

  /** Open every complete unit in the queue; `emit` gets verified plaintext. */
  async pump(emit) {
    const q = this.q;
    for (;;) {
      if (!this.unit) {
        if (q.length === 0) return;
        const u = this.dec.next_unit(q.view(Math.min(24, q.length)));
        if (!u) return;
        this.unit = u;
      }
      const [kind, total, ctOffset] = this.unit;
      if (q.length < total) return;
      const bytes = q.view(total);
      if (kind === KIND_FOOTER) {
        this.dec.verify_footer(bytes);
      } else if (this.backend === 'rust') {
        await emit(this.dec.open_unit(bytes));
      } else {
        const ivAad = this.dec.iv_aad();
        let pt;
        try {
          // WebCrypto copies its input at the call and decrypts on another thread, while the
          // signature hash of the same unit runs here (node:crypto decrypts at once).
          pt = this.aead.open(this.key, ivAad.subarray(0, 12), ivAad.subarray(12), bytes.subarray(ctOffset));
        } catch {
          throw this.dec.frame_failed();
        }
        if (this.signed) {
          try {
            this.dec.absorb(bytes);
          } catch (e) {
            if (pt instanceof Promise) pt.catch(() => {});
            throw e;
          }
        }
        try {
          if (pt instanceof Promise) pt = await pt;
        } catch {
          throw this.dec.frame_failed();
        }
        this.dec.frame_ok();
        await emit(pt);
      }
      q.drop(total);
      this.unit = null;
    }
  }

  async push(chunk, emit) {
    if (!this.headerDone) {
      if (!(await this.pushHeader(chunk))) return false;
    } else {
      this.q.push(chunk);
    }
    await this.pump(emit);
    this.q.settle();
    return true;
  }

  end() {
    this.dec.finish();
  }

  free() {
    this.dec?.free();
    this.dec = null;
    this.key = null;
  }
}

/**
 * A TransformStream that decrypts one message. Plaintext comes out one
 * verified frame at a time; on any failure the stream errors. `onHeader`
 * (optional) gets `{encryptionContext, suite, keyIds}` once the header is
 * authenticated.
 */
export function decryptStream(opts, onHeader) {
  const p = decryptParams(opts);
  let o = null;
  let ctrl = null;
  const cleanup = () => {
    o?.free();
    o = null;
  };
  const onAbort = () => {
    cleanup();
    try {
      ctrl?.error(p.signal.reason ?? new DOMException('aborted', 'AbortError'));
    } catch {}
  };
  const fail = (e) => {
    cleanup();
    p.signal?.removeEventListener('abort', onAbort);
    return convert(e);
  };
  return new TransformStream(
    {
      async start(c) {
        ctrl = c;
        p.signal?.addEventListener('abort', onAbort, { once: true });
        await ensure();
        o = new Opener(p, onHeader);
      },
      async transform(chunk, c) {
        if (!isU8(chunk)) throw fail(new TypeError('decryptStream takes Uint8Array chunks'));
        try {
          throwIfAborted(p.signal);
          await o.push(chunk, (b) => c.enqueue(b));
        } catch (e) {
          throw fail(e);
        }
      },
      async flush() {
        try {
          throwIfAborted(p.signal);
          o.end();
        } catch (e) {
          throw fail(e);
        }
        cleanup();
        p.signal?.removeEventListener('abort', onAbort);
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 1 },
    { highWaterMark: 4 },
  );
}

async function decryptBuffer(data, p) {
  throwIfAborted(p.signal);
  await ensure();
  const o = new Opener(p);
  const parts = [];
  let n = 0;
  const emit = (b) => {
    parts.push(b);
    n += b.length;
  };
  try {
    await o.push(data, emit);
    o.end();
  } catch (e) {
    throw convert(e);
  } finally {
    o.free();
  }
  let plaintext;
  if (parts.length === 1) plaintext = parts[0];
  else {
    plaintext = new Uint8Array(n);
    let pos = 0;
    for (const part of parts) {
      plaintext.set(part, pos);
      pos += part.length;
    }
  }
  return { plaintext, ...o.info };
}

/**
 * Decrypt a Uint8Array or Blob: `{plaintext, encryptionContext, suite, keyIds}`
 * after the whole message verified. A ReadableStream: the same, once the
 * header is authenticated, with `plaintext` a ReadableStream of verified frames.
 */
export async function decrypt(data, opts) {
  const p = decryptParams(opts);
  if (isU8(data)) return decryptBuffer(data, p);
  if (isBlob(data)) {
    let info;
    const plaintext = await collect(data.stream().pipeThrough(decryptStream(opts, (i) => (info = i))), p.signal);
    return { plaintext, ...info };
  }
  if (!isStream(data)) throw new TypeError('decrypt takes a Uint8Array, a Blob or a ReadableStream');
  return decryptReader(data, p);
}

async function decryptReader(data, p) {
  throwIfAborted(p.signal);
  await ensure();
  const o = new Opener(p);
  const reader = data.getReader();
  const pending = [];
  const emit = (b) => {
    pending.push(b);
  };
  const read = async () => {
    throwIfAborted(p.signal);
    const r = await reader.read();
    if (!r.done && !isU8(r.value)) throw new TypeError('decrypt takes a stream of Uint8Array chunks');
    return r;
  };
  const fail = (e) => {
    o.free();
    reader.cancel(e).catch(() => {});
    return convert(e);
  };
  try {
    while (!o.headerDone) {
      const r = await read();
      if (r.done) o.end(); // throws: truncated
      else await o.push(r.value, emit);
    }
  } catch (e) {
    throw fail(e);
  }
  let ctrl;
  const onAbort = () => {
    const e = fail(p.signal.reason ?? new DOMException('aborted', 'AbortError'));
    try {
      ctrl.error(e);
    } catch {}
  };
  p.signal?.addEventListener('abort', onAbort, { once: true });
  const plaintext = new ReadableStream(
    {
      start(c) {
        ctrl = c;
      },
      async pull(c) {
        try {
          while (pending.length === 0) {
            const r = await read();
            if (r.done) {
              o.end();
              o.free();
              p.signal?.removeEventListener('abort', onAbort);
              c.close();
              return;
            }
            await o.push(r.value, emit);
          }
          c.enqueue(pending.shift());
        } catch (e) {
          p.signal?.removeEventListener('abort', onAbort);
          throw fail(e);
        }
      },
      cancel(reason) {
        p.signal?.removeEventListener('abort', onAbort);
        o.free();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { plaintext, ...o.info };
}
