type WasmInput = string | URL | Request | Response | BufferSource | WebAssembly.Module;
/**
 * Load the wasm. Optional: every async function loads it on first use; call it before `ciphertextLength`.
 * `signatureInput`: where the ECDSA module (loaded on the first signed message) comes from.
 */
export default function init(input?: WasmInput, signatureInput?: WasmInput): Promise<void>;

/** An ESDK algorithm suite id, e.g. 0x0478 (the default) or 0x0578 (signed). */
export type SuiteId = 0x0014 | 0x0046 | 0x0078 | 0x0114 | 0x0146 | 0x0178 | 0x0214 | 0x0346 | 0x0378 | 0x0478 | 0x0578;
export type CommitmentPolicy = 'require-encrypt-require-decrypt' | 'require-encrypt-allow-decrypt' | 'forbid-encrypt-allow-decrypt';
/** 'node' (node:crypto) exists in Node only and is its default; elsewhere 'webcrypto' is. */
export type Backend = 'webcrypto' | 'node' | 'rust';
export type EncryptionContext = Record<string, string>;

/** Stable error codes (the core's `Error::code`). */
export type ErrorCode =
  | 'MALFORMED_MESSAGE' | 'TRUNCATED_MESSAGE' | 'TRAILING_DATA' | 'UNSUPPORTED_VERSION' | 'UNSUPPORTED_SUITE'
  | 'LIMIT_EXCEEDED' | 'HEADER_AUTH_FAILED' | 'COMMITMENT_MISMATCH' | 'BODY_AUTH_FAILED' | 'SIGNATURE_INVALID'
  | 'COMMITMENT_POLICY_VIOLATION' | 'SIGNED_MESSAGE_REFUSED' | 'ENCRYPTION_CONTEXT_MISMATCH' | 'NO_DECRYPTABLE_KEY'
  | 'KEYRING_ERROR' | 'INVALID_KEY' | 'INVALID_ARGUMENT' | 'CRYPTO_ERROR' | 'INVALID_STATE' | (string & {});

export class KmsEnvelopeError extends Error {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions);
  readonly name: 'KmsEnvelopeError';
  readonly code: ErrorCode;
}

export interface EncryptedDataKey {
  providerId: string;
  providerInfo: Uint8Array;
  ciphertext: Uint8Array;
}

export interface EncryptionMaterials {
  suite: SuiteId;
  encryptionContext: EncryptionContext;
  plaintextDataKey?: Uint8Array;
  encryptedDataKeys: EncryptedDataKey[];
}

export interface DecryptionMaterials {
  suite: SuiteId;
  encryptionContext: EncryptionContext;
  plaintextDataKey?: Uint8Array | null;
}

/**
 * A keyring written in JS. `onEncrypt` generates `plaintextDataKey` if there is none (its length is the
 * suite's key length) and appends an encrypted data key. `onDecrypt` returns materials with
 * `plaintextDataKey` set, or without it (or null) for "none of these are mine"; throwing is a real failure.
 */
export interface CustomKeyring {
  onEncrypt(materials: EncryptionMaterials): EncryptionMaterials | Promise<EncryptionMaterials>;
  onDecrypt(
    materials: DecryptionMaterials,
    encryptedDataKeys: EncryptedDataKey[],
  ): DecryptionMaterials | null | undefined | Promise<DecryptionMaterials | null | undefined>;
}

declare abstract class KeyringHandle {
  /** Release the wasm memory (the key is zeroized). */
  free(): void;
  [Symbol.dispose](): void;
}

export class RawAesKeyring extends KeyringHandle {
  private constructor();
  /**
   * `key`: 16, 24 or 32 bytes, or an AES-GCM CryptoKey. A non-extractable CryptoKey stays in
   * WebCrypto, which wraps and unwraps the data keys (needs the 'encrypt' and/or 'decrypt' usage);
   * the encrypted data keys are the same as with the key bytes.
   */
  static create(options: { keyNamespace: string; keyName: string; key: Uint8Array | CryptoKey }): Promise<RawAesKeyring>;
}

export class MultiKeyring extends KeyringHandle {
  private constructor();
  static create(options: { generator?: Keyring; children?: Keyring[] }): Promise<MultiKeyring>;
}

export type Keyring = RawAesKeyring | MultiKeyring | CustomKeyring;

export interface EncryptOptions {
  keyring: Keyring;
  encryptionContext?: EncryptionContext;
  /** Keys of the context that are authenticated but not stored in the message. */
  requiredEncryptionContextKeys?: string[];
  suite?: SuiteId;
  /** Bytes per frame, 1 ..= 2^32-1; default 65536. */
  frameLength?: number;
  commitmentPolicy?: CommitmentPolicy;
  maxEncryptedDataKeys?: number;
  backend?: Backend;
  signal?: AbortSignal;
  /** Tests only: deterministic randomness, so that two backends can be compared byte for byte. Never use it for real data. */
  insecureTestSeed?: Uint8Array;
}

export interface DecryptOptions {
  keyring: Keyring;
  /** The reproduced encryption context: stored pairs must match, others are authenticated as required. */
  encryptionContext?: EncryptionContext;
  commitmentPolicy?: CommitmentPolicy;
  /** Refuse signed messages. */
  unsignedOnly?: boolean;
  maxEncryptedDataKeys?: number;
  /** Largest frame accepted (bounds memory); default 64 MiB. */
  maxFrameLength?: number;
  maxBodySize?: number;
  backend?: Backend;
  signal?: AbortSignal;
}

export interface DecryptResult<P> {
  plaintext: P;
  encryptionContext: EncryptionContext;
  suite: SuiteId;
  /** `providerId/keyName` of each encrypted data key in the message. */
  keyIds: string[];
}

export function encrypt(data: Uint8Array | Blob, options: EncryptOptions): Promise<Uint8Array>;
export function encrypt(data: ReadableStream<Uint8Array>, options: EncryptOptions): Promise<ReadableStream<Uint8Array>>;

export function decrypt(data: Uint8Array | Blob, options: DecryptOptions): Promise<DecryptResult<Uint8Array>>;
export function decrypt(
  data: ReadableStream<Uint8Array>,
  options: DecryptOptions,
): Promise<DecryptResult<ReadableStream<Uint8Array>>>;

/**
 * The streams keep no reference to a written chunk once its write() has resolved, so the writer
 * may reuse the chunk's buffer (a BYOB reader filling it again).
 */
export function encryptStream(options: EncryptOptions): TransformStream<Uint8Array, Uint8Array>;
/** Releases each frame only after its tag verified. Keeps no reference to a chunk after its write() resolved. */
export function decryptStream(
  options: DecryptOptions,
  onHeader?: (info: Omit<DecryptResult<never>, 'plaintext'>) => void,
): TransformStream<Uint8Array, Uint8Array>;

/** The exact message length (Content-Length), or undefined for custom keyrings. */
export function ciphertextLength(
  plaintextLength: number,
  options: Pick<EncryptOptions, 'keyring' | 'suite' | 'frameLength' | 'encryptionContext' | 'requiredEncryptionContextKeys' | 'commitmentPolicy'>,
): number | undefined;

// ---- sharing without moving the body ------------------------------------------------

export interface RewrapHeaderOptions {
  /** Decrypts the data key of the old header. */
  keyring: Keyring;
  /** The reproduced encryption context of the old header (as for decrypt). */
  encryptionContext?: EncryptionContext;
  /** Wraps the existing data key for the new reader: its onEncrypt sees `plaintextDataKey` already set. */
  newKeyring: Keyring;
  /** The encryption context stored in the new header. */
  newEncryptionContext?: EncryptionContext;
  /** Applied to the old header; default require-encrypt-require-decrypt. */
  commitmentPolicy?: CommitmentPolicy;
  /** Refuse to write more encrypted data keys than this. */
  maxEncryptedDataKeys?: number;
  /** Largest header accepted (old) and written (new), in bytes; default 1 MiB. */
  maxHeaderSize?: number;
}

/**
 * Verify a v2 message header (tag and key commitment) and resolve to a new header for the same
 * body: same suite, message id, frame length and commitment; new encryption context, new
 * encrypted data keys, recomputed header tag. New header + old body is a valid message.
 * Signed suites and v1 messages are refused (UNSUPPORTED_SUITE).
 */
export function rewrapHeader(header: Uint8Array, options: RewrapHeaderOptions): Promise<Uint8Array>;

/** The length of the header at the front of a message prefix, or null if more bytes are needed. Needs `await init()` first in browsers. */
export function headerLength(prefix: Uint8Array, options?: { maxHeaderSize?: number }): number | null;

// ---- KMS through kms-proxy ---------------------------------------------------------

/** Error codes of the KMS keyring and the secrets API (besides the format's codes). */
export type KmsErrorCode =
  | 'KMS_ACCESS_DENIED' | 'KMS_KEY_NOT_FOUND' | 'KMS_KEY_DISABLED' | 'KMS_INVALID_CIPHERTEXT' | 'KMS_UNREACHABLE'
  | 'KMS_ERROR' | 'PARAMETER_NOT_FOUND' | 'PARAMETER_VERSION_NOT_FOUND' | 'PARAMETER_ALREADY_EXISTS';

/** A bearer token, or a function asked before every request (so tokens can refresh). */
export type TokenSupplier = string | (() => string | Promise<string>);

export interface KmsTransportOptions {
  /** The proxy's URL, e.g. `https://kms.example.com/`. */
  endpoint: string;
  token: TokenSupplier;
  /** Per attempt; default 10000. */
  timeoutMs?: number;
  /** Further attempts on network errors, timeouts, 5xx, 429 and throttling (backoff 100 ms, doubling, jittered); default 3. */
  retries?: number;
  /** A fetch to use instead of `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** The provider id of KMS encrypted data keys. */
export const KMS_PROVIDER_ID: 'aws-kms';

/**
 * The AWS KMS keyring over kms-proxy with bearer tokens: GenerateDataKey for the first key id, Encrypt for the
 * others; Decrypt for `aws-kms` encrypted data keys whose provider info (the key ARN) is one of `keyIds`
 * (aliases cannot match) or, with `discovery: true`, any. Messages interoperate with the official SDKs' KMS keyrings.
 */
export class KmsProxyKeyring implements CustomKeyring {
  private constructor();
  static create(options: KmsTransportOptions & ({ keyIds: string[]; discovery?: false } | { discovery: true; keyIds?: never })): Promise<KmsProxyKeyring>;
  readonly keyIds: readonly string[];
  readonly discovery: boolean;
  onEncrypt(materials: EncryptionMaterials): Promise<EncryptionMaterials>;
  onDecrypt(materials: DecryptionMaterials, encryptedDataKeys: EncryptedDataKey[]): Promise<DecryptionMaterials | null>;
}

export interface SecretOptions extends KmsTransportOptions {
  keyring: Keyring;
  /** `'bytes'` returns Uint8Array values; default strings (UTF-8). */
  as?: 'string' | 'bytes';
}

/** Encrypt here (context `{parameter: name}`) and store as a SecureString with KeyId `client-encrypted`. */
export function putSecret(
  name: string,
  value: string | Uint8Array,
  options: SecretOptions & { overwrite?: boolean; description?: string },
): Promise<{ version: number }>;

/** Read and decrypt one secret; `name` may end in `:version` or `:label`. */
export function getSecret(name: string, options: SecretOptions & { as?: 'string' }): Promise<string>;
export function getSecret(name: string, options: SecretOptions & { as: 'bytes' }): Promise<Uint8Array>;

export interface SecretEntry<V> {
  name: string;
  /** Client-encrypted values decrypted; other values as stored. */
  value: V;
  type: 'String' | 'StringList' | 'SecureString';
  version: number;
}

/** Every parameter under `path`, following pages. */
export function getSecretsByPath(
  path: string,
  options: SecretOptions & { recursive?: boolean; pageSize?: number; as?: 'string' },
): AsyncIterableIterator<SecretEntry<string>>;
export function getSecretsByPath(
  path: string,
  options: SecretOptions & { recursive?: boolean; pageSize?: number; as: 'bytes' },
): AsyncIterableIterator<SecretEntry<string | Uint8Array>>;
