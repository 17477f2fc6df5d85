// kms-envelope: the KMS keyring over kms-proxy (or any AWS KMS JSON 1.1 endpoint taking
// bearer tokens), and end-to-end secrets in the proxy's Parameter Store. The transport is
// fetch (browsers, workers, Node 20+). Behaviour and error codes follow the Rust CLI
// (cli/src/kms.rs, cli/src/secrets.rs).
import { KmsEnvelopeError, ensure } from './util.js';
import { encrypt } from './core.js';
import { decrypt } from './decrypt.js';

/** The provider id of KMS encrypted data keys (as in the official SDKs). */
export const KMS_PROVIDER_ID = 'aws-kms';
const CLIENT_ENCRYPTED = 'client-encrypted';
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

// ---- base64 ---------------------------------------------------------------------

function b64encode(u8) {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}

function b64decode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- transport --------------------------------------------------------------------

const ACCESS_DENIED = new Set([
  'AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignature',
  'MissingAuthenticationToken', 'ExpiredTokenException',
]);

/** The error code of a service error (the CLI's `kind_of`). */
function codeOf(type, status) {
  const t = type.split('#').pop();
  if (ACCESS_DENIED.has(t)) return 'KMS_ACCESS_DENIED';
  if (t === 'NotFoundException') return 'KMS_KEY_NOT_FOUND';
  if (t === 'DisabledException' || t === 'KMSInvalidStateException') return 'KMS_KEY_DISABLED';
  if (t === 'InvalidCiphertextException' || t === 'IncorrectKeyException') return 'KMS_INVALID_CIPHERTEXT';
  if (status === 401 || status === 403) return 'KMS_ACCESS_DENIED';
  return 'KMS_ERROR';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function kmsError(code, message, extra) {
  const e = new KmsEnvelopeError(code, message, extra?.cause ? { cause: extra.cause } : undefined);
  if (extra?.type) e.serviceError = extra.type;
  if (extra?.status) e.status = extra.status;
  return e;
}

function transportOf(o, what) {
  if (!o || typeof o !== 'object') throw new TypeError(`${what} needs an options object`);
  const { endpoint, token } = o;
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError('endpoint must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('endpoint must be an http:// or https:// URL');
  if (typeof token !== 'string' && typeof token !== 'function') {
    throw new TypeError('token must be a string or a function returning one (or a promise of one)');
  }
  const timeoutMs = o.timeoutMs ?? 10_000;
  const retries = o.retries ?? 3;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer');
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new RangeError('retries must be an integer in 0..10');
  const fetchFn = o.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new TypeError('no fetch: pass options.fetch');
  return { endpoint: url.href, token, timeoutMs, retries, fetch: fetchFn };
}

async function tokenOf(t) {
  let v;
  try {
    v = typeof t.token === 'function' ? await t.token() : t.token;
  } catch (e) {
    throw kmsError('KMS_ACCESS_DENIED', `the token supplier failed: ${e?.message ?? e}`, { cause: e });
  }
  if (typeof v !== 'string' || !v.trim()) throw kmsError('KMS_ACCESS_DENIED', 'the token supplier returned no token');
  return v.trim();
}

/**
 * One JSON 1.1 call with retries (exponential backoff with jitter, 100 ms base) on
 * network errors, timeouts, 5xx, 429 and throttling. The token is asked for per attempt.
 */
async function call(t, target, op, body) {
  const payload = JSON.stringify(body);
  let last = kmsError('KMS_UNREACHABLE', `${op}: no attempt was made`);
  for (let attempt = 0; attempt <= t.retries; attempt++) {
    if (attempt > 0) await sleep((100 << (attempt - 1)) * (0.5 + Math.random() / 2));
    const token = await tokenOf(t);
    let status;
    let text;
    try {
      const fetchFn = t.fetch; // called unbound: a browser's fetch refuses another `this`
      const res = await fetchFn(t.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `${target}.${op}`,
          Authorization: `Bearer ${token}`,
        },
        body: payload,
        signal: AbortSignal.timeout(t.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const why = e?.name === 'TimeoutError' ? `timed out after ${t.timeoutMs} ms` : (e?.cause?.code ?? e?.message ?? String(e));
      last = kmsError('KMS_UNREACHABLE', `${op}: ${why}`, { cause: e });
      continue;
    }
    let v = null;
    try {
      v = JSON.parse(text || '{}');
    } catch {}
    if (status >= 200 && status < 300) {
      if (v && typeof v === 'object') return v;
      last = kmsError('KMS_ERROR', `${op}: unreadable answer from the key service`);
      continue;
    }
    const type = typeof v?.__type === 'string' ? v.__type : '';
    const msg = v?.message ?? v?.Message ?? '';
    const short = type.split('#').pop();
    const retry = status >= 500 || status === 429 || type.includes('Throttling');
    const code = retry && status >= 500 ? 'KMS_UNREACHABLE' : codeOf(type, status);
    last = kmsError(code, `${op}: ${short} (${status}): ${msg}`, { type: short, status });
    if (!retry) break;
  }
  throw last;
}

function field(v, name) {
  if (typeof v?.[name] !== 'string') throw kmsError('KMS_ERROR', `the answer lacks ${name}`);
  return v[name];
}

function b64field(v, name) {
  const b = b64decode(field(v, name));
  if (!b) throw kmsError('KMS_ERROR', `${name} is not base64`);
  return b;
}

function isArn(s) {
  const p = s.split(':');
  return p.length >= 6 && p[0] === 'arn' && p[2] === 'kms' && p.slice(5).join(':').startsWith('key/');
}

const withContext = (body, ec) => (Object.keys(ec).length ? { ...body, EncryptionContext: ec } : body);

// ---- the keyring ------------------------------------------------------------------

/**
 * A KMS keyring through kms-proxy with bearer tokens. Encrypted data keys are written as the
 * official SDKs' AWS KMS keyring writes them: provider id `aws-kms`, provider info the key ARN.
 */
export class KmsProxyKeyring {
  /**
   * @param {{endpoint: string, keyIds?: string[], discovery?: boolean,
   *          token: string | (() => string | Promise<string>), timeoutMs?: number, retries?: number,
   *          fetch?: typeof fetch}} o
   */
  static async create(o) {
    const t = transportOf(o, 'KmsProxyKeyring.create');
    const discovery = o.discovery === true;
    const keyIds = o.keyIds ?? [];
    if (!Array.isArray(keyIds) || keyIds.some((k) => typeof k !== 'string' || !k)) {
      throw new TypeError('keyIds must be an array of non-empty strings');
    }
    if (discovery && keyIds.length) throw new TypeError('give keyIds or discovery: true, not both');
    if (!discovery && !keyIds.length) throw new TypeError('a KMS keyring needs keyIds (or discovery: true)');
    await ensure();
    const k = new KmsProxyKeyring();
    Object.defineProperty(k, '_t', { value: t });
    k.keyIds = Object.freeze([...keyIds]);
    k.discovery = discovery;
    return k;
  }

  /** @internal */
  _call(op, body) {
    return call(this._t, 'TrentService', op, body);
  }

  async onEncrypt(m) {
    if (this.discovery) throw new KmsEnvelopeError('KEYRING_ERROR', 'a discovery KMS keyring cannot encrypt');
    const want = m.suite === 0x0014 || m.suite === 0x0114 || m.suite === 0x0214 ? 16
      : m.suite === 0x0046 || m.suite === 0x0146 || m.suite === 0x0346 ? 24 : 32;
    const ec = m.encryptionContext;
    const edks = [...m.encryptedDataKeys];
    let key = m.plaintextDataKey;
    let others = this.keyIds.slice(1);
    if (!key) {
      const v = await this._call('GenerateDataKey', withContext({ KeyId: this.keyIds[0], NumberOfBytes: want }, ec));
      const arn = field(v, 'KeyId');
      key = b64field(v, 'Plaintext');
      if (key.length !== want || !isArn(arn)) {
        throw new KmsEnvelopeError('KEYRING_ERROR', 'the key service returned an invalid data key');
      }
      edks.push({ providerId: KMS_PROVIDER_ID, providerInfo: utf8.encode(arn), ciphertext: b64field(v, 'CiphertextBlob') });
    } else {
      others = this.keyIds;
    }
    for (const keyId of others) {
      const v = await this._call('Encrypt', withContext({ KeyId: keyId, Plaintext: b64encode(key) }, ec));
      const arn = field(v, 'KeyId');
      if (!isArn(arn)) throw new KmsEnvelopeError('KEYRING_ERROR', 'the key service returned an invalid key id');
      edks.push({ providerId: KMS_PROVIDER_ID, providerInfo: utf8.encode(arn), ciphertext: b64field(v, 'CiphertextBlob') });
    }
    return { ...m, plaintextDataKey: key, encryptedDataKeys: edks };
  }

  async onDecrypt(m, edks) {
    if (m.plaintextDataKey) return m;
    let last = null;
    for (const edk of edks) {
      if (edk.providerId !== KMS_PROVIDER_ID) continue;
      let arn;
      try {
        arn = fromUtf8.decode(edk.providerInfo);
      } catch {
        continue;
      }
      if (!isArn(arn) || !(this.discovery || this.keyIds.includes(arn))) continue;
      try {
        const v = await this._call(
          'Decrypt',
          withContext({ KeyId: arn, CiphertextBlob: b64encode(edk.ciphertext) }, m.encryptionContext),
        );
        const got = field(v, 'KeyId');
        const key = b64field(v, 'Plaintext');
        if (got === arn) return { ...m, plaintextDataKey: key };
        last = new KmsEnvelopeError('KEYRING_ERROR', 'the key service answered for another key');
      } catch (e) {
        last = e;
      }
    }
    if (last) throw last;
    return null;
  }
}

// ---- secrets in the Parameter Store -------------------------------------------------

/** The encryption context of a parameter: its name without a `:version`/`:label` selector. */
function contextFor(name) {
  const i = name.lastIndexOf(':');
  const bare = i >= 0 && i < name.length - 1 ? name.slice(0, i) : name;
  return { parameter: bare };
}

function secretOpts(o, what) {
  const t = transportOf(o, what);
  if (!o.keyring) throw new TypeError(`${what} needs a keyring`);
  return t;
}

async function ssm(t, op, body) {
  try {
    return await call(t, 'AmazonSSM', op, body);
  } catch (e) {
    const map = {
      ParameterNotFound: 'PARAMETER_NOT_FOUND',
      ParameterVersionNotFound: 'PARAMETER_VERSION_NOT_FOUND',
      ParameterAlreadyExists: 'PARAMETER_ALREADY_EXISTS',
    };
    if (e instanceof KmsEnvelopeError && map[e.serviceError]) {
      const n = new KmsEnvelopeError(map[e.serviceError], e.message);
      n.serviceError = e.serviceError;
      throw n;
    }
    throw e;
  }
}

async function decryptValue(keyring, name, value) {
  const msg = b64decode(value);
  if (!msg) throw new KmsEnvelopeError('MALFORMED_MESSAGE', `${name}: the stored value is not base64`);
  const { plaintext } = await decrypt(msg, { keyring, encryptionContext: contextFor(name) });
  return plaintext;
}

const valueBytes = (v) => (typeof v === 'string' ? utf8.encode(v) : v);

/**
 * Encrypt `value` (string or Uint8Array) here and store the message (base64) as a SecureString
 * with `KeyId: "client-encrypted"`. Returns the parameter's new version.
 */
export async function putSecret(name, value, o) {
  if (typeof name !== 'string' || !name) throw new TypeError('name must be a non-empty string');
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeError('value must be a string or a Uint8Array');
  const t = secretOpts(o, 'putSecret');
  const msg = await encrypt(valueBytes(value), { keyring: o.keyring, encryptionContext: contextFor(name) });
  const body = { Name: name, Value: b64encode(msg), Type: 'SecureString', KeyId: CLIENT_ENCRYPTED, Overwrite: !!o.overwrite };
  if (typeof o.description === 'string') body.Description = o.description;
  const out = await ssm(t, 'PutParameter', body);
  return { version: out.Version };
}

/**
 * Read and decrypt a secret written by putSecret (`name` may carry `:version` or `:label`).
 * Returns a string (UTF-8) unless `as: 'bytes'`.
 */
export async function getSecret(name, o) {
  if (typeof name !== 'string' || !name) throw new TypeError('name must be a non-empty string');
  const t = secretOpts(o, 'getSecret');
  const out = await ssm(t, 'GetParameter', { Name: name, WithDecryption: true });
  const plain = await decryptValue(o.keyring, name, out?.Parameter?.Value ?? '');
  return o.as === 'bytes' ? plain : new TextDecoder().decode(plain);
}

/** Whether a value (returned WithDecryption) still is a message: its header parses. */
async function looksLikeMessage(v) {
  const b = b64decode(v);
  if (!b || b.length < 20) return false;
  // The wasm core parses the header before it asks a keyring for anything: a keyring that
  // answers with a marker tells that the header parsed.
  const MARK = 'kms-envelope:header-parsed';
  const probe = { onDecrypt() { throw new KmsEnvelopeError('PROBE', MARK); } };
  try {
    await decrypt(b, { keyring: probe, commitmentPolicy: 'require-encrypt-allow-decrypt' });
    return true;
  } catch (e) {
    return e?.code === 'PROBE' || String(e?.message).includes(MARK);
  }
}

/**
 * Every parameter under `path` (pages followed automatically), as an async iterator of
 * `{ name, value, type, version }`: client-encrypted values are decrypted (string, or bytes
 * with `as: 'bytes'`), other values pass through as stored.
 */
export async function* getSecretsByPath(path, o) {
  if (typeof path !== 'string' || !path) throw new TypeError('path must be a non-empty string');
  const t = secretOpts(o, 'getSecretsByPath');
  const pageSize = o.pageSize ?? 10;
  let next;
  do {
    const body = { Path: path, Recursive: !!o.recursive, WithDecryption: true, MaxResults: pageSize };
    if (next) body.NextToken = next;
    const out = await ssm(t, 'GetParametersByPath', body);
    for (const p of out.Parameters ?? []) {
      const raw = p.Value ?? '';
      let value = raw;
      if (p.Type === 'SecureString' && (await looksLikeMessage(raw))) {
        const plain = await decryptValue(o.keyring, p.Name, raw);
        value = o.as === 'bytes' ? plain : new TextDecoder().decode(plain);
      }
      yield { name: p.Name, value, type: p.Type, version: p.Version };
    }
    next = out.NextToken;
  } while (next);
}
