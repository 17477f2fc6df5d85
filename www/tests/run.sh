#!/usr/bin/env bash
# End-to-end test of the web demo (www/) in Chromium. Builds the wasm package and the release
# binaries, installs playwright-core into www/tests/node_modules, runs www/tests/e2e.mjs.
# E2E_MIB sets the file size (default 300, the issue's size). Screenshots: www/tests/artifacts/.
# Set E2E_NO_BUILD=1 to skip the builds (KMS_DEMO_BIN: where the binaries are).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${E2E_NO_BUILD:-}" ]; then
  ./scripts/build-wasm.sh >/dev/null
  cargo build --release -q -p kms-proxy -p kms-blobstore
fi
(cd www/tests && { [ -d node_modules/playwright-core ] || npm install --silent --no-audit --no-fund; })
node www/tests/e2e.mjs
exec node www/tests/bench-smoke.mjs
