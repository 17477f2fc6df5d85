#!/usr/bin/env bash
# The web demo's performance figures (issue 6): headless Chromium signs in as alice, uploads a
# generated file through the UI and downloads it, against the real services on loopback, and
# compares each transfer's throughput with the package's encryptStream measured by bench.js in
# the same browser run; samples the tab's memory meanwhile (www/tests/bench.mjs says what counts).
#   scripts/bench-demo.sh                              1 GiB, one round (about a minute)
#   DEMO_BENCH_MIB=2048 scripts/bench-demo.sh          the 2 GiB memory run (manual; not in test.sh)
#   DEMO_BENCH_REPS=2 ...                              more upload+download rounds, interleaved
# Builds the wasm package and the release binaries first (as www/tests/run.sh does);
# DEMO_BENCH_NO_BUILD=1 skips that (KMS_DEMO_BIN: where the binaries are).
# Needs about 3x the file size free in $TMPDIR (the file, the stored ciphertext, the saved copy).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DEMO_BENCH_NO_BUILD:-}" ]; then
  ./scripts/build-wasm.sh >/dev/null
  cargo build --release -q -p kms-proxy -p kms-blobstore
fi
(cd www/tests && { [ -d node_modules/playwright-core ] || npm install --silent --no-audit --no-fund; })
echo "# $(uptime)"
exec node www/tests/bench.mjs
