// A TypeScript consumer of the KMS keyring and the secrets API (tsc --noEmit).
import {
  KmsProxyKeyring, putSecret, getSecret, getSecretsByPath, encrypt, KmsEnvelopeError, type KmsErrorCode,
} from 'kms-envelope';

export async function kmsDemo(endpoint: string, refresh: () => Promise<string>): Promise<string[]> {
  const keyring = await KmsProxyKeyring.create({ endpoint, keyIds: ['alias/app'], token: refresh, timeoutMs: 5000, retries: 2 });
  const discovery = await KmsProxyKeyring.create({ endpoint, discovery: true, token: 'static-token' });
  const ct: Uint8Array = await encrypt(new Uint8Array(4), { keyring, encryptionContext: { owner: 'alice' } });
  const o = { endpoint, keyring: discovery, token: refresh };
  const { version }: { version: number } = await putSecret('/app/x', 'v', { ...o, keyring, overwrite: true });
  const s: string = await getSecret(`/app/x:${version}`, o);
  const b: Uint8Array = await getSecret('/app/x', { ...o, as: 'bytes' });
  const names: string[] = [s, String(b.length), String(ct.length)];
  for await (const p of getSecretsByPath('/app', { ...o, recursive: true })) names.push(`${p.name}=${p.value}`);
  try {
    await getSecret('/none', o);
  } catch (e) {
    if (e instanceof KmsEnvelopeError) {
      const code: KmsErrorCode | string = e.code;
      names.push(code);
    }
  }
  return names;
}
