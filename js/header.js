// Share a message without moving its body: write a new header for it.
//
// A message is header || body. The body is sealed under keys derived from the data key
// and the message id only, so whoever can decrypt the data key can write a new header
// for the same body: new encryption context, new encrypted data keys (the same data key
// wrapped for someone else), and a recomputed header tag. Keep each message's header in
// an object of its own and the body never moves when a message is shared.
import * as w from './wasm/kms_envelope.js';
import { ensure, convert, isU8, ecPairs, policyOf, optInt, keyringHandle } from './util.js';

function maxHeaderSize(opts) {
  return optInt(opts?.maxHeaderSize, 'maxHeaderSize', 1, 0xffffffff);
}

/**
 * The length of the header at the front of `prefix` (a Uint8Array holding the start of a
 * message), or `null` if more bytes are needed. Throws a KmsEnvelopeError for bytes that
 * are not a message header. Needs `await init()` first in browsers.
 */
export function headerLength(prefix, opts = {}) {
  if (!isU8(prefix)) throw new TypeError('headerLength takes a Uint8Array');
  try {
    return w.header_length(prefix, maxHeaderSize(opts)) ?? null;
  } catch (e) {
    throw convert(e);
  }
}

/**
 * Verify `header` (exactly one message header, as `headerLength` cuts it) with
 * `opts.keyring` and `opts.encryptionContext` (the reproduced context, as for decrypt),
 * then resolve to a new header for the same body: `opts.newKeyring` wraps the existing
 * data key (its onEncrypt sees `plaintextDataKey` already set) under
 * `opts.newEncryptionContext`, which the new header stores. Signed suites (the footer
 * signature covers the header) and v1 messages are refused with UNSUPPORTED_SUITE.
 */
export async function rewrapHeader(header, opts) {
  if (!isU8(header)) throw new TypeError('rewrapHeader takes the header as a Uint8Array');
  if (!opts || typeof opts !== 'object') throw new TypeError('rewrapHeader needs an options object');
  if (!opts.keyring) throw new TypeError('rewrapHeader needs a keyring (to decrypt the data key)');
  if (!opts.newKeyring) throw new TypeError('rewrapHeader needs a newKeyring (to wrap the data key)');
  const ec = ecPairs(opts.encryptionContext);
  const newEc = ecPairs(opts.newEncryptionContext, 'newEncryptionContext');
  const policy = policyOf(opts);
  const maxEdks = optInt(opts.maxEncryptedDataKeys, 'maxEncryptedDataKeys', 1, 0xffff);
  const maxHeader = maxHeaderSize(opts);
  await ensure();
  const kh = keyringHandle(opts.keyring);
  let nh;
  try {
    nh = keyringHandle(opts.newKeyring);
  } catch (e) {
    kh.release();
    throw e;
  }
  try {
    return await w.rewrap_header(header, kh.h, ec, nh.h, newEc, policy, maxEdks, maxHeader);
  } catch (e) {
    throw kh.error ?? nh.error ?? convert(e);
  } finally {
    kh.release();
    nh.release();
  }
}
