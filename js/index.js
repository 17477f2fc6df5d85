// kms-envelope for browsers, workers and bundlers: the wasm is fetched next
// to this module (bundlers see the `new URL(..., import.meta.url)`).
import wasmInit from './wasm/kms_envelope.js';
import { _setInit } from './util.js';

let loading = null;

/**
 * Load the wasm. Optional: every async function loads it on first use.
 * `input` may be a URL, a Response, bytes or a WebAssembly.Module.
 */
export default function init(input) {
  if (!loading) loading = wasmInit(input === undefined ? undefined : { module_or_path: input });
  return loading.then(() => undefined);
}

_setInit(() => init());

export * from './core.js';
export * from './kms.js';
