// A TypeScript consumer: must compile with `tsc --noEmit` against the shipped types.
import init, {
  encrypt, decrypt, encryptStream, decryptStream, ciphertextLength, RawAesKeyring, MultiKeyring, KmsEnvelopeError,
  type CustomKeyring, type DecryptResult, type EncryptionMaterials,
} from 'kms-envelope';

export async function demo(file: Blob, body: ReadableStream<Uint8Array>): Promise<number> {
  await init();
  const key = crypto.getRandomValues(new Uint8Array(32));
  using keyring = await RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k1', key });
  const custom: CustomKeyring = {
    onEncrypt: async (m: EncryptionMaterials) => m,
    onDecrypt: (m) => ({ ...m, plaintextDataKey: null }),
  };
  const multi = await MultiKeyring.create({ generator: keyring, children: [custom] });
  const ct: Uint8Array = await encrypt(new Uint8Array(10), { keyring, encryptionContext: { tenant: 'a' }, suite: 0x0478, frameLength: 4096 });
  const out: DecryptResult<Uint8Array> = await decrypt(ct, { keyring, encryptionContext: { tenant: 'a' }, unsignedOnly: false, maxEncryptedDataKeys: 1 });
  const streamed: ReadableStream<Uint8Array> = file.stream().pipeThrough(encryptStream({ keyring: multi, backend: 'rust' }));
  const plain: ReadableStream<Uint8Array> = body.pipeThrough(decryptStream({ keyring, signal: AbortSignal.timeout(1000) }));
  const s: ReadableStream<Uint8Array> = await encrypt(streamed, { keyring });
  const d = await decrypt(plain, { keyring });
  const p2: ReadableStream<Uint8Array> = d.plaintext;
  void s; void p2;
  const n: number | undefined = ciphertextLength(1 << 20, { keyring, suite: 0x0578 });
  try {
    await decrypt(ct.subarray(1), { keyring });
  } catch (e) {
    if (e instanceof KmsEnvelopeError) {
      const code: string = e.code;
      void code;
    }
  }
  // @ts-expect-error: an unknown suite id is a type error
  await encrypt(new Uint8Array(1), { keyring, suite: 0x1234 });
  // @ts-expect-error: the keyring is required
  await encrypt(new Uint8Array(1), {});
  multi.free();
  return out.plaintext.length + (n ?? 0);
}
