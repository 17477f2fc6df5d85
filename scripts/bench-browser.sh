#!/usr/bin/env bash
# Benchmark kms-envelope against raw AES-GCM and the AWS Encryption SDK for JavaScript,
# in headless Chromium and in Node, on the same buffers in the same run.
# Installs (idempotent) into target/bench: the packed kms-envelope, @aws-crypto/client-browser,
# @aws-crypto/client-node, esbuild, playwright-core. Writes target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/target/bench
[ -f target/npm/kms-envelope/package.json ] || ./scripts/build-wasm.sh
TARBALL=$(cd target/npm && npm pack --silent ./kms-envelope | tail -1)
mkdir -p "$B"
cp scripts/bench-browser.mjs "$B/"
cd "$B"
[ -f package.json ] || echo '{"private":true,"type":"module"}' > package.json
npm install --silent --no-audit --no-fund --no-save "$ROOT/target/npm/$TARBALL" \
  @aws-crypto/client-browser@4.2.2 @aws-crypto/client-node@5.0.2 esbuild@0.28.2 playwright-core@1.65.1 >/dev/null
node bench-browser.mjs "$@"
