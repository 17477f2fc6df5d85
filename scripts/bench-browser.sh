#!/usr/bin/env bash
# Benchmark kms-envelope against raw AES-GCM and the AWS Encryption SDK for JavaScript,
# in headless Chromium and in Node, on the same buffers in the same run.
# Installs (idempotent) into target/bench: the packed kms-envelope, @aws-crypto/client-browser,
# @aws-crypto/client-node, esbuild, playwright-core, and the npm `buffer` polyfill that the AWS
# browser client needs (it uses Buffer; without it: "Buffer is not defined"). Writes target/bench/results.json.
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
  @aws-crypto/client-browser@4.2.2 buffer@6.0.3 esbuild@0.28.2 playwright-core@1.65.1 >/dev/null
# client-node 5 next to client-browser 4 in one tree mixes their dependencies: keep it apart.
[ -d aws-node/node_modules/@aws-crypto/client-node ] || npm install --silent --no-audit --no-fund --prefix aws-node @aws-crypto/client-node@5.0.2 >/dev/null
node bench-browser.mjs "$@"
