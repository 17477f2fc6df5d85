#!/usr/bin/env bash
# Build the npm package `kms-envelope` into target/npm/kms-envelope.
#
# Tools (installed only when missing; idempotent):
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version <the version in Cargo.lock>
#       (without --locked: its lock file pins a webpki-roots the registry mirror lacks)
#   npm install --prefix target/npm-tools binaryen@132.0.0   (wasm-opt; Debian's binaryen 108 breaks the wasm)
#                                         esbuild@0.28.2     (strips comments and whitespace from the JS)
# wasm-pack is not used: wasm-bindgen's `web` output plus the hand-written wrapper in js/
# and js/package.json make the package directly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/npm/kms-envelope
TOOLS=$ROOT/target/npm-tools
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
WBV=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qF " $WBV"; then
  cargo install wasm-bindgen-cli --version "$WBV"
fi
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ] || [ ! -x "$TOOLS/node_modules/.bin/esbuild" ] || \
   ! grep -q "\"version\": \"$BINARYEN_VERSION\"" "$TOOLS/node_modules/binaryen/package.json" 2>/dev/null || \
   ! grep -q "\"version\": \"$ESBUILD_VERSION\"" "$TOOLS/node_modules/esbuild/package.json" 2>/dev/null; then
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION"
fi

# Size matters more than speed here: the bulk AES runs in WebCrypto or node:crypto. The `wasm`
# profile of the root Cargo.toml says how (opt-level, per-package overrides).
# Two modules: kms_envelope (the format, keyrings, AES-GCM, hashing) and kms_envelope_sig
# (ECDSA P-256/P-384, sig/), which the JS loads only for signed suites.
cargo build --quiet --profile wasm --target wasm32-unknown-unknown -p kms-envelope -p kms-envelope-sig

rm -rf "$OUT"
mkdir -p "$OUT/wasm"
for m in kms_envelope kms_envelope_sig; do
  wasm-bindgen --target web --out-dir "$OUT/wasm" --out-name "$m" "target/wasm32-unknown-unknown/wasm/$m.wasm"
  "$TOOLS/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers \
    "$OUT/wasm/${m}_bg.wasm" -o "$OUT/wasm/${m}_bg.wasm"
done
rm -f "$OUT"/wasm/*.d.ts
cp js/*.js js/index.d.ts js/package.json js/README.md "$OUT/"
# The shipped JS without comments and whitespace (names are kept readable); the sources are in js/.
for f in "$OUT"/*.js "$OUT"/wasm/*.js; do
  "$TOOLS/node_modules/.bin/esbuild" --log-level=warning --format=esm --minify-whitespace --minify-syntax \
    "$f" --outfile="$f" --allow-overwrite
done
cp LICENSE "$OUT/" 2>/dev/null || true
# What a browser loads: index.js and its static imports, each gzipped as a server would send it;
# the signature module only for signed suites.
gz() { local n=0 f; for f in "$@"; do n=$((n + $(gzip -9 -c "$OUT/$f" | wc -c))); done; echo $n; }
LOADED=$(cd "$OUT" && ls index.js core.js util.js decrypt.js kms.js header.js wasm/kms_envelope.js wasm/kms_envelope_sig.js wasm/kms_envelope_bg.wasm)
echo "built $OUT: wasm $(wc -c < "$OUT/wasm/kms_envelope_bg.wasm") bytes;" \
  "gzipped, what the browser entry loads: $(gz $LOADED) bytes (wasm $(gz wasm/kms_envelope_bg.wasm));" \
  "signed suites add $(gz wasm/kms_envelope_sig_bg.wasm) bytes (wasm/kms_envelope_sig_bg.wasm)"
