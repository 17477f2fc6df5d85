// A browser app that uses kms-envelope; bundled by esbuild and by Vite.
import init, { encrypt, decrypt, RawAesKeyring } from 'kms-envelope';

export async function main() {
  await init();
  const keyring = await RawAesKeyring.create({ keyNamespace: 'ns', keyName: 'k', key: new Uint8Array(32).fill(9) });
  const pt = new TextEncoder().encode('bundled '.repeat(10000));
  const ct = await encrypt(pt, { keyring, suite: 0x0578 });
  const out = await decrypt(ct, { keyring });
  return out.plaintext.length === pt.length && out.plaintext.every((b, i) => b === pt[i]) ? 'ok' : 'mismatch';
}

if (typeof document !== 'undefined') {
  main().then(
    (r) => (globalThis.bundleResult = r),
    (e) => (globalThis.bundleResult = `error: ${e}`),
  );
}
