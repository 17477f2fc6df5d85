// kms-envelope for browsers, workers and bundlers: the wasm is fetched next
// to this module (bundlers see the `new URL(..., import.meta.url)`).
import wasmInit from './wasm/kms_envelope.js';
import sigInit, * as sig from './wasm/kms_envelope_sig.js';
import { _setInit, _setSigInit } from './util.js';

let loading = null;
let sigInput;

/**
 * Load the wasm. Optional: every async function loads it on first use.
 * `input` may be a URL, a Response, bytes or a WebAssembly.Module; so may
 * `signatureInput`, for the ECDSA module that signed suites load on first use.
 */
export default function init(input, signatureInput) {
  if (signatureInput !== undefined) sigInput = signatureInput;
  if (!loading) loading = wasmInit(input === undefined ? undefined : { module_or_path: input });
  return loading.then(() => undefined);
}

_setInit(() => init());
_setSigInit(async () => {
  await sigInit(sigInput === undefined ? undefined : { module_or_path: sigInput });
  return sig;
});

export * from './core.js';
export * from './kms.js';
