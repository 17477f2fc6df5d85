#!/usr/bin/env bash
# Build the npm package `kms-envelope` into target/npm/kms-envelope.
#
# Tools (installed only when missing; idempotent):
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version <the version in Cargo.lock>
#       (without --locked: its lock file pins a webpki-roots the registry mirror lacks)
#   npm install --prefix target/npm-tools binaryen@132.0.0   (wasm-opt; Debian's binaryen 108 breaks the wasm)
# wasm-pack is not used: wasm-bindgen's `web` output plus the hand-written wrapper in js/
# and js/package.json make the package directly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/npm/kms-envelope
TOOLS=$ROOT/target/npm-tools
BINARYEN_VERSION=132.0.0

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
WBV=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qF " $WBV"; then
  cargo install wasm-bindgen-cli --version "$WBV"
fi
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ] || \
   ! grep -q "\"version\": \"$BINARYEN_VERSION\"" "$TOOLS/node_modules/binaryen/package.json" 2>/dev/null; then
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
fi

# Size matters more than speed here: the bulk AES runs in WebCrypto.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${KMS_ENVELOPE_OPT_LEVEL:-s}
cargo build --quiet --release --target wasm32-unknown-unknown -p kms-envelope

rm -rf "$OUT"
mkdir -p "$OUT/wasm"
wasm-bindgen --target web --out-dir "$OUT/wasm" --out-name kms_envelope \
  target/wasm32-unknown-unknown/release/kms_envelope.wasm
"$TOOLS/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers \
  "$OUT/wasm/kms_envelope_bg.wasm" -o "$OUT/wasm/kms_envelope_bg.wasm"
cp js/core.js js/kms.js js/util.js js/decrypt.js js/header.js js/index.js js/node.js js/index.d.ts js/package.json js/README.md "$OUT/"
cp LICENSE "$OUT/" 2>/dev/null || true
echo "built $OUT: wasm $(wc -c < "$OUT/wasm/kms_envelope_bg.wasm") bytes," \
  "gzipped wasm+glue+wrapper $(cat "$OUT/wasm/kms_envelope_bg.wasm" "$OUT/wasm/kms_envelope.js" "$OUT/core.js" "$OUT/util.js" "$OUT/decrypt.js" "$OUT/index.js" | gzip -9 | wc -c) bytes"
