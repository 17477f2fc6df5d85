// A keyring that gets data keys from kms-proxy (the AWS KMS JSON protocol) with fetch and
// the user's bearer JWT. Encrypted data keys are written as AWS KMS keyrings write them:
// provider id "aws-kms", provider info = the key ARN, so the official SDKs can read them.
export class AppError extends Error {
  /** kind: session | denied | tamper | network | other */
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

const te = new TextEncoder();
const td = new TextDecoder();
const b64 = (u8) => {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(s);
};
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** `onDataKey`: a test hook (the page passes it only when /config.json says `testHooks: true`,
 *  which only the end-to-end test's config does) that sees each new data key. */
export function kmsProxyKeyring({ proxy, keyArn, token, onDataKey }) {
  const keyring = {
    error: null,
    async call(op, body) {
      let r;
      try {
        r = await fetch(proxy.replace(/\/$/, '') + '/', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `TrentService.${op}`,
            Authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
      } catch {
        throw (keyring.error = new AppError('network', 'The key service (kms-proxy) cannot be reached.'));
      }
      const j = await r.json().catch(() => ({}));
      if (r.ok) return j;
      const type = String(j.__type ?? '').split('#').pop();
      let e;
      if (r.status === 401 || /UnrecognizedClient|ExpiredToken|InvalidSignature|MissingAuthentication/.test(type)) {
        e = new AppError('session', 'Your session has expired. Please sign in again.');
      } else if (type === 'AccessDeniedException') {
        e = new AppError('denied', 'Access denied: the key service will not release this file\'s key to you.');
      } else if (type === 'InvalidCiphertextException') {
        e = new AppError('tamper', 'This file has been tampered with: its encrypted key does not verify.');
      } else {
        e = new AppError('other', `The key service refused ${op}: ${type || r.status} ${j.message ?? ''}`);
      }
      throw (keyring.error = e);
    },
    async onEncrypt(m) {
      const ec = m.encryptionContext;
      if (m.plaintextDataKey) {
        const r = await keyring.call('Encrypt', { KeyId: keyArn, Plaintext: b64(m.plaintextDataKey), EncryptionContext: ec });
        m.encryptedDataKeys.push({ providerId: 'aws-kms', providerInfo: te.encode(r.KeyId), ciphertext: unb64(r.CiphertextBlob) });
        return m;
      }
      const r = await keyring.call('GenerateDataKey', { KeyId: keyArn, NumberOfBytes: 32, EncryptionContext: ec });
      m.plaintextDataKey = unb64(r.Plaintext);
      onDataKey?.(m.plaintextDataKey);
      m.encryptedDataKeys.push({ providerId: 'aws-kms', providerInfo: te.encode(r.KeyId), ciphertext: unb64(r.CiphertextBlob) });
      return m;
    },
    async onDecrypt(m, edks) {
      for (const edk of edks) {
        if (edk.providerId !== 'aws-kms' || td.decode(edk.providerInfo) !== keyArn) continue;
        const r = await keyring.call('Decrypt', { KeyId: keyArn, CiphertextBlob: b64(edk.ciphertext), EncryptionContext: m.encryptionContext });
        m.plaintextDataKey = unb64(r.Plaintext);
        // What reEncryptKeyring() re-wraps when this message is shared.
        keyring.decrypted = { edk, encryptionContext: { ...m.encryptionContext } };
        return m;
      }
      return null;
    },
  };
  return keyring;
}

/**
 * The keyring that wraps an existing data key for a reader, for rewrapHeader(): its
 * onEncrypt never sees a new data key; it asks kms-proxy to ReEncrypt the encrypted data key
 * that `source` (a kmsProxyKeyring) just decrypted, from the context it was made under to the
 * new header's context. The proxy checks kms:ReEncryptFrom against the source context and
 * kms:ReEncryptTo against the destination context. (The data key itself, which `source`
 * decrypted, is needed only to recompute the new header's authentication tag.)
 */
export function reEncryptKeyring(source, keyArn) {
  return {
    async onEncrypt(m) {
      if (!m.plaintextDataKey) throw new AppError('other', 'Sharing needs the file\'s existing data key.');
      const from = source.decrypted;
      if (!from) throw new AppError('other', 'Sharing needs the file\'s encrypted data key.');
      let r;
      try {
        r = await source.call('ReEncrypt', {
          CiphertextBlob: b64(from.edk.ciphertext), SourceEncryptionContext: from.encryptionContext,
          DestinationKeyId: keyArn, DestinationEncryptionContext: m.encryptionContext,
        });
      } catch (e) {
        if (e.kind !== 'denied') throw e;
        throw (source.error = new AppError('denied', 'Access denied: the key service will not re-encrypt this file\'s key for sharing.'));
      }
      m.encryptedDataKeys.push({ providerId: 'aws-kms', providerInfo: te.encode(r.KeyId), ciphertext: unb64(r.CiphertextBlob) });
      return m;
    },
    onDecrypt() {
      return null;
    },
  };
}

/** Plain words for any failure: an AppError, a package error (by code), or a fetch error. */
export function explain(e, keyring) {
  if (keyring?.error) return keyring.error;
  if (e instanceof AppError) return e;
  if (e?.cause instanceof AppError) return e.cause;
  const code = e?.code ?? '';
  if (/BODY_AUTH_FAILED|HEADER_AUTH_FAILED|COMMITMENT_MISMATCH|TRUNCATED_MESSAGE|MALFORMED_MESSAGE|TRAILING_DATA|SIGNATURE_INVALID/.test(code)) {
    return new AppError('tamper', 'This file has been tampered with: it failed its integrity check, and nothing was saved.');
  }
  if (code === 'ENCRYPTION_CONTEXT_MISMATCH') return new AppError('denied', 'Access denied: this file belongs to someone else.');
  if (e?.name === 'AbortError') return new AppError('cancelled', 'Cancelled.');
  if (e?.name === 'QuotaExceededError') return new AppError('other', 'There is not enough disk space to save this file; nothing was saved.');
  if (e instanceof TypeError && /fetch|network/i.test(e.message)) return new AppError('network', 'The network connection was lost.');
  return new AppError('other', `Something went wrong: ${e?.code ? e.code + ': ' : ''}${e?.message ?? e}`);
}

/** A fetch to kms-blobstore that turns its JSON errors into AppErrors. */
export async function blobFetch(base, token, method, path, init = {}) {
  let r;
  try {
    r = await fetch(base.replace(/\/$/, '') + path, { ...init, method, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token}` } });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new AppError('network', 'The file store cannot be reached (network lost).');
  }
  if (r.ok) return r;
  const j = await r.json().catch(() => ({}));
  if (r.status === 401) throw new AppError('session', 'Your session has expired. Please sign in again.');
  if (r.status === 403) throw new AppError('denied', 'Access denied: the file store will not give you this file.');
  if (r.status === 404) throw new AppError('missing', 'No such file (it may have been deleted).');
  throw new AppError('other', `The file store refused the request: ${j.code ?? r.status} ${j.message ?? ''}`);
}
