// kms-envelope for Node 20+: the wasm is read from the package directory.
import { readFile } from 'node:fs/promises';
import wasmInit from './wasm/kms_envelope.js';
import { _setInit } from './util.js';

let loading = null;

/** Load the wasm (optional: every async function loads it on first use). */
export default function init() {
  if (!loading) {
    loading = readFile(new URL('./wasm/kms_envelope_bg.wasm', import.meta.url)).then((bytes) =>
      wasmInit({ module_or_path: bytes }),
    );
  }
  return loading.then(() => undefined);
}

_setInit(() => init());
await init();

export * from './core.js';
export * from './kms.js';
