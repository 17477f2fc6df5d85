// kms-envelope: the public JS API over the wasm core.
//
// Rust (wasm) keeps the message format: header, key derivation, key
// commitment, header authentication, framing, limits and signatures. These
// modules move bytes: they cut plaintext into frames, run each frame's
// AES-GCM with WebCrypto (one call per frame, non-extractable key) or in wasm
// ('rust' backend), and wire both into Web Streams. They use no Node
// built-in, so bundlers need no polyfill.
import * as w from './wasm/kms_envelope.js';
import {
  DEFAULT_FRAME_LENGTH, SUITES, ensure, convert, isU8, isBlob, isStream, ecPairs, optInt, backendOf,
  policyOf, signalOf, checkOptions, keyringHandle, throwIfAborted, collect, importContentKey, aeadOf, ensureSig,
  SIGNED_SUITES,
} from './util.js';

export { KmsEnvelopeError, RawAesKeyring, MultiKeyring } from './util.js';
export { decrypt, decryptStream } from './decrypt.js';
export { rewrapHeader, headerLength } from './header.js';

// ---- encryption ----------------------------------------------------------------

function encryptParams(opts) {
  checkOptions(opts, 'encrypt');
  const suite = optInt(opts.suite, 'suite', 0, 0xffff);
  if (suite !== undefined && !SUITES.includes(suite)) throw new RangeError(`unknown suite 0x${suite.toString(16)}`);
  const frameLength = optInt(opts.frameLength, 'frameLength', 1, 0xffffffff) ?? DEFAULT_FRAME_LENGTH;
  const required = opts.requiredEncryptionContextKeys ?? [];
  if (!Array.isArray(required) || required.some((k) => typeof k !== 'string')) {
    throw new TypeError('requiredEncryptionContextKeys must be an array of strings');
  }
  const seed = opts.insecureTestSeed;
  if (seed !== undefined && !isU8(seed)) throw new TypeError('insecureTestSeed must be a Uint8Array');
  return {
    keyring: opts.keyring,
    suite,
    frameLength,
    ec: ecPairs(opts.encryptionContext),
    required,
    policy: policyOf(opts),
    maxEdks: optInt(opts.maxEncryptedDataKeys, 'maxEncryptedDataKeys', 1, 0xffff),
    seed,
    backend: backendOf(opts),
    signal: signalOf(opts),
  };
}

/** Seals one message, frame by frame. */
class Sealer {
  static async open(p) {
    await ensure();
    if (SIGNED_SUITES.includes(p.suite)) await ensureSig();
    const kh = keyringHandle(p.keyring);
    const s = new Sealer();
    try {
      s.enc = await w.encryptor_new(kh.h, p.suite, p.frameLength, p.ec, p.required, p.policy, p.maxEdks, p.seed);
    } catch (e) {
      throw kh.error ?? convert(e);
    } finally {
      kh.release();
    }
    s.backend = p.backend;
    s.signed = s.enc.is_signed();
    s.frameLength = p.frameLength;
    if (s.backend !== 'rust') {
      s.aead = aeadOf(s.backend);
      s.key = await importContentKey(s.aead, s.enc.content_key(), 'encrypt');
      // Chromium's WebCrypto has no AES-192: such messages use the Rust AEAD (same bytes).
      if (!s.key) s.backend = 'rust';
    }
    return s;
  }

  header() {
    return this.enc.header();
  }

  /** Seal one frame; returns [prefix, ciphertext || tag]. */
  async seal(plain, last) {
    const spec = this.enc.begin_frame(plain.length, last);
    const pl = spec[0];
    const prefix = spec.subarray(1, 1 + pl);
    if (this.backend === 'rust') return [prefix, this.enc.seal_frame(plain)];
    const iv = spec.subarray(1 + pl, 13 + pl);
    const additionalData = spec.subarray(13 + pl);
    let body = this.aead.seal(this.key, iv, additionalData, plain);
    if (body instanceof Promise) body = await body;
    if (this.signed) this.enc.end_frame_signed(body);
    else this.enc.end_frame();
    return [prefix, body];
  }

  finish() {
    return this.enc.finish();
  }

  free() {
    this.enc?.free();
    this.enc = null;
    this.key = null;
  }
}

/**
 * Encrypt a stream of chunks. `emit` receives output chunks in order.
 * Frames come straight from the input when a chunk holds a whole frame,
 * else from one reused frame buffer.
 */
class FrameCutter {
  constructor(sealer, emit) {
    this.s = sealer;
    this.emit = emit;
    this.f = sealer.frameLength;
    this.buf = null;
    this.fill = 0;
    this.started = false;
  }

  async start() {
    if (!this.started) {
      this.started = true;
      await this.emit(this.s.header());
    }
  }

  async out(frame, last) {
    const [prefix, body] = await this.s.seal(frame, last);
    await this.emit(prefix);
    await this.emit(body);
  }

  async push(chunk) {
    await this.start();
    const f = this.f;
    let off = 0;
    while (off < chunk.length) {
      if (this.fill === f) {
        await this.out(this.buf, false);
        this.fill = 0;
      }
      if (this.fill === 0 && chunk.length - off > f) {
        await this.out(chunk.subarray(off, off + f), false);
        off += f;
        continue;
      }
      if (!this.buf) this.buf = new Uint8Array(f);
      const n = Math.min(f - this.fill, chunk.length - off);
      this.buf.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
    }
  }

  async end() {
    await this.start();
    await this.out(this.buf ? this.buf.subarray(0, this.fill) : new Uint8Array(0), true);
    const footer = this.s.finish();
    if (footer.length) await this.emit(footer);
  }
}

/** A TransformStream that encrypts a stream of Uint8Array chunks into one message. */
export function encryptStream(opts) {
  const p = encryptParams(opts);
  let cutter = null;
  let sealer = null;
  let ctrl = null;
  const cleanup = () => {
    sealer?.free();
    sealer = null;
  };
  const onAbort = () => {
    cleanup();
    try {
      ctrl?.error(p.signal.reason ?? new DOMException('aborted', 'AbortError'));
    } catch {}
  };
  const setup = async (c) => {
    throwIfAborted(p.signal);
    if (!cutter) {
      sealer = await Sealer.open(p);
      cutter = new FrameCutter(sealer, (b) => c.enqueue(b));
    }
  };
  return new TransformStream(
    {
      start(c) {
        ctrl = c;
        p.signal?.addEventListener('abort', onAbort, { once: true });
      },
      async transform(chunk, c) {
        if (!isU8(chunk)) throw new TypeError('encryptStream takes Uint8Array chunks');
        try {
          await setup(c);
          throwIfAborted(p.signal);
          await cutter.push(chunk);
        } catch (e) {
          cleanup();
          throw convert(e);
        }
      },
      async flush(c) {
        try {
          await setup(c);
          throwIfAborted(p.signal);
          await cutter.end();
        } catch (e) {
          throw convert(e);
        } finally {
          cleanup();
          p.signal?.removeEventListener('abort', onAbort);
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 1 },
    { highWaterMark: 4 },
  );
}

async function encryptBuffer(data, p) {
  throwIfAborted(p.signal);
  const sealer = await Sealer.open(p);
  try {
    const max = sealer.enc.ciphertext_length(data.length);
    const out = new Uint8Array(max);
    let pos = 0;
    const cutter = new FrameCutter(sealer, (b) => {
      out.set(b, pos);
      pos += b.length;
    });
    // Whole frames straight from the input: no staging copy.
    await cutter.push(data);
    await cutter.end();
    return pos === out.length ? out : out.slice(0, pos);
  } catch (e) {
    throw convert(e);
  } finally {
    sealer.free();
  }
}

/**
 * Encrypt a Uint8Array or Blob (to a Uint8Array) or a ReadableStream (to a
 * ReadableStream).
 */
export async function encrypt(data, opts) {
  const p = encryptParams(opts);
  if (isU8(data)) return encryptBuffer(data, p);
  if (isBlob(data)) return collect(data.stream().pipeThrough(encryptStream(opts)), p.signal);
  if (isStream(data)) return data.pipeThrough(encryptStream(opts), { signal: p.signal });
  throw new TypeError('encrypt takes a Uint8Array, a Blob or a ReadableStream');
}

/**
 * The exact message length for `plaintextLength` bytes (Content-Length
 * before an upload); `undefined` for keyrings that cannot tell their
 * encrypted data key sizes (JS keyrings). Needs `await init()` first in
 * browsers.
 */
export function ciphertextLength(plaintextLength, opts) {
  if (typeof plaintextLength !== 'number' || !Number.isSafeInteger(plaintextLength) || plaintextLength < 0) {
    throw new RangeError('plaintextLength must be a non-negative safe integer');
  }
  const p = encryptParams(opts);
  const kh = keyringHandle(p.keyring);
  try {
    return w.ciphertext_length(plaintextLength, kh.h, p.suite, p.frameLength, p.ec, p.required, p.policy);
  } catch (e) {
    throw convert(e);
  } finally {
    kh.release();
  }
}

