// Sharing a file without moving its body.
//
// A file is three objects in the owner's space of the store: <oid>.h (the message header, with
// the encrypted data key), <oid>.d (the encrypted body) and <oid>.m (the encrypted name, type
// and size: a small message of its own). To share it with a reader, the owner's browser
//   1. asks kms-proxy to Decrypt the data key (context {owner, purpose: upload}): the new
//      header's authentication tag is computed with it;
//   2. asks kms-proxy to ReEncrypt the encrypted data key from that context to
//      {owner, purpose: upload, reader} (reEncryptKeyring in kms.js);
//   3. writes the new header (rewrapHeader from the package) as <oid>.h.<reader>, and the same
//      for the metadata message as <oid>.m.<reader>;
//   4. shares exactly <oid>.h.<reader>, <oid>.m.<reader> and <oid>.d with the reader.
// The body is never downloaded, re-encrypted or uploaded again. Unsharing removes the body's
// share and deletes the reader's two objects.
import init, { decrypt, rewrapHeader, headerLength } from '/pkg/index.js';
import { kmsProxyKeyring, reEncryptKeyring, explain, blobFetch, AppError } from './kms.js';

export const USER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Where a file's objects are and under which encryption contexts, as `me` reads them. */
export function objectNames(owner, oid, me) {
  const base = `/o/${encodeURIComponent(owner)}/${oid}`;
  const reader = me === owner ? null : me;
  const ctx = (purpose) => (reader ? { owner, purpose, reader } : { owner, purpose });
  const tail = reader ? `.${reader}` : '';
  return {
    header: `${base}.h${tail}`,
    meta: `${base}.m${tail}`,
    body: `${base}.d`,
    context: ctx('upload'),
    metaContext: ctx('metadata'),
  };
}

const bytesOf = async (res) => new Uint8Array(await res.arrayBuffer());

/** Share `oid` of `owner` (the caller) with `reader`. */
export async function share({ cfg, token, owner, oid, reader }) {
  if (!USER_NAME.test(reader)) throw new AppError('other', 'A user name is made of letters, digits, "-" and "_".');
  if (reader === owner) throw new AppError('other', 'This file is already yours: share it with another user.');
  const B = (m, p, init2) => blobFetch(cfg.blob, token, m, p, init2);
  const mine = objectNames(owner, oid, owner);
  const theirs = objectNames(owner, oid, reader);
  const keyring = kmsProxyKeyring({ proxy: cfg.proxy, keyArn: cfg.keyArn, token });
  const newKeyring = reEncryptKeyring(keyring, cfg.keyArn);
  try {
    await init();
    // The file's header object, and the metadata message (whose header is at its front).
    for (const [from, to, ctx, newCtx] of [
      [mine.header, theirs.header, mine.context, theirs.context],
      [mine.meta, theirs.meta, mine.metaContext, theirs.metaContext],
    ]) {
      const bytes = await bytesOf(await B('GET', from));
      const n = headerLength(bytes);
      if (n === null) throw new AppError('tamper', 'This file has been tampered with: its header is cut short.');
      const head = await rewrapHeader(bytes.subarray(0, n), { keyring, encryptionContext: ctx, newKeyring, newEncryptionContext: newCtx });
      await B('PUT', to, { body: new Blob([head, bytes.subarray(n)]) });
    }
    for (const p of [theirs.header, theirs.meta, theirs.body]) await B('POST', `${p}?share=${encodeURIComponent(reader)}`);
  } catch (e) {
    throw explain(e, keyring);
  }
}

/** Stop sharing `oid` with `reader`: the body's share goes first, then the reader's copies. */
export async function unshare({ cfg, token, owner, oid, reader }) {
  const B = (m, p) => blobFetch(cfg.blob, token, m, p);
  const mine = objectNames(owner, oid, owner);
  const theirs = objectNames(owner, oid, reader);
  await B('DELETE', `${mine.body}?share=${encodeURIComponent(reader)}`);
  for (const p of [mine.header, mine.meta]) await B('DELETE', `${p}?share=${encodeURIComponent(reader)}`).catch(() => {});
  for (const p of [theirs.header, theirs.meta]) {
    await B('DELETE', p).catch((e) => { if (e.kind !== 'missing') throw e; });
  }
}

/** The readers of each of the caller's files, from the listing of their objects. */
export function readersOf(objects) {
  const out = new Map();
  for (const o of objects) {
    const m = /^([0-9a-f]{32})\.h\.([A-Za-z0-9_-]+)$/.exec(o.id);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

/** Files other users shared with `me`: [{owner, oid, name, size, type, uploaded}]. */
export async function sharedWithMe({ cfg, token, me }) {
  const keyring = kmsProxyKeyring({ proxy: cfg.proxy, keyArn: cfg.keyArn, token });
  try {
    const { objects } = await (await blobFetch(cfg.blob, token, 'GET', '/shared')).json();
    const have = new Set(objects.map((o) => `${o.owner}/${o.id}`));
    const rows = [];
    for (const o of objects) {
      const m = /^([0-9a-f]{32})\.m\.([A-Za-z0-9_-]+)$/.exec(o.id);
      if (!m || m[2] !== me) continue;
      const oid = m[1];
      if (!have.has(`${o.owner}/${oid}.h.${me}`) || !have.has(`${o.owner}/${oid}.d`)) continue;
      const names = objectNames(o.owner, oid, me);
      const ct = await bytesOf(await blobFetch(cfg.blob, token, 'GET', names.meta));
      const { plaintext } = await decrypt(ct, { keyring, encryptionContext: names.metaContext });
      rows.push({ owner: o.owner, oid, ...JSON.parse(new TextDecoder().decode(plaintext)) });
    }
    return rows.sort((a, b) => b.uploaded - a.uploaded);
  } catch (e) {
    throw explain(e, keyring);
  }
}
