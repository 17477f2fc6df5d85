// The shared package tests under node:test, against the installed package.
import test from 'node:test';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pkg from 'kms-envelope';
import { makeCases } from '../suite.mjs';

const root = new URL('..', import.meta.url).pathname;
const env = {
  where: 'node',
  fixture: async (rel) => new Uint8Array(await readFile(join(root, 'fixtures', rel))),
  sink: async (dir, name, { ct, pt, meta }) => {
    const d = join(root, 'sink', dir);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, `${name}.ct`), ct);
    await writeFile(join(d, `${name}.pt`), pt);
    await writeFile(join(d, `${name}.json`), JSON.stringify(meta));
  },
};

test('the package loads in Node without init() and exports the API', async () => {
  for (const name of ['encrypt', 'decrypt', 'encryptStream', 'decryptStream', 'ciphertextLength', 'RawAesKeyring', 'MultiKeyring', 'KmsEnvelopeError', 'default']) {
    if (!(name in pkg)) throw new Error(`missing export ${name}`);
  }
  await pkg.default();
});

for (const c of makeCases(pkg, env)) test(c.name, c.fn);
