#!/usr/bin/env bash
# The wasm-bindgen-test tests of the boundary (tests/wasm.rs) in Node and in headless Chromium
# (a page and a dedicated Worker), with wasm-bindgen-test-runner from the wasm-bindgen CLI at the
# Cargo.lock version (installed by scripts/build-wasm.sh's rule when missing) and chromedriver from
# Debian's chromium-driver (scripts/setup-test-deps.sh). WASM_TEST_MODES=node,browser,worker
# selects runs (default: all three).
set -euo pipefail
cd "$(dirname "$0")/.."
MODES=${WASM_TEST_MODES:-node,browser,worker}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
WBV=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF " $WBV"; then
  cargo install wasm-bindgen-cli --version "$WBV"
fi
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# The crypto is slow unoptimised; the dev profile at opt-level 1 links fast and runs fast enough.
export CARGO_PROFILE_DEV_OPT_LEVEL=1 CARGO_PROFILE_DEV_DEBUG=0
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
run() { # run MODE ENV...
  local mode=$1
  shift
  echo "wasm-test: $mode"
  env "$@" cargo test --target wasm32-unknown-unknown -p kms-envelope --test wasm
}
rc=0
[[ ",$MODES," == *",node,"* ]] && { run node || rc=1; }
[[ ",$MODES," == *",browser,"* ]] && { run chromium-page WASM_BINDGEN_USE_BROWSER=1 || rc=1; }
[[ ",$MODES," == *",worker,"* ]] && { run chromium-worker WASM_BINDGEN_USE_DEDICATED_WORKER=1 || rc=1; }
exit $rc
