#!/usr/bin/env bash
# Run every test of the project: the one command for developers and CI.
#
#   1. scripts/setup-test-deps.sh  (installs what is missing, skips the rest)
#   2. cargo fmt --all -- --check
#   3. cargo clippy --workspace --all-targets -- -D warnings
#   4. cargo test --workspace --profile ci   (optimised, no LTO: the crypto-heavy
#      tests stay fast and the test binaries link quickly)
#   5. the interop suite (pytest): our CLI against the official AWS Encryption SDK
#   6. proxy/tests-py/run.sh (the kms-proxy's Python tests), if it exists
#   7. scripts/fuzz-smoke.sh, if it exists
#   8. scripts/wasm-test.sh: wasm-bindgen-test of the wasm boundary in Node and headless Chromium
#   9. pkg-tests/run.sh, if it exists
#  10. www/tests/run.sh (the web demo end to end in Chromium), if it exists
#
# Every step runs even when an earlier one failed (setup excepted), so one run
# shows every failure; the exit status is non-zero if any step failed. Each
# step has a time limit (minutes, below) so that a hung step fails instead of
# eating CI's whole budget.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

failed=()
ran=0
START=$SECONDS

# `timeout` runs each step in a process group of its own, and on expiry ends
# the whole group (browsers, servers); Ctrl-C or a TERM to this script is
# passed on to the running step the same way.
child=
stop() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  echo "test.sh: stopped by SIG$1" >&2
  exit 130
}
trap 'stop INT' INT
trap 'stop TERM' TERM
trap 'stop HUP' HUP

# step NAME MINUTES COMMAND...
step() {
  local name=$1 minutes=$2
  shift 2
  local t0=$SECONDS rc
  printf '\n==> %s\n' "$name"
  timeout --kill-after=30 "$((minutes * 60))" "$@" &
  child=$!
  wait "$child"
  rc=$?
  child=
  ran=$((ran + 1))
  if [ "$rc" -eq 0 ]; then
    printf '==> %s: ok (%ss)\n' "$name" "$((SECONDS - t0))"
    return 0
  fi
  case $rc in
    124 | 137) printf '==> %s: FAILED, still running after %s minutes (%ss)\n' "$name" "$minutes" "$((SECONDS - t0))" ;;
    *) printf '==> %s: FAILED, exit %s (%ss)\n' "$name" "$rc" "$((SECONDS - t0))" ;;
  esac
  failed+=("$name")
  return 0
}

if ! bash scripts/setup-test-deps.sh; then
  echo "test.sh: scripts/setup-test-deps.sh failed; nothing was tested" >&2
  exit 1
fi

step "cargo fmt" 5 cargo fmt --all -- --check
step "cargo clippy" 25 cargo clippy --workspace --all-targets -- -D warnings
step "cargo test (profile ci: optimised, no LTO)" 35 cargo test --workspace --profile ci

# The interop suite tests the CLI binary that `cargo test --profile ci` built for
# the CLI's own tests; if that step failed, conftest.py builds it itself.
if [ -x target/ci/kms-envelope ] && [ "${#failed[@]}" -eq 0 ]; then
  export KMS_ENVELOPE_BIN=$ROOT/target/ci/kms-envelope
fi
# (pytest's exit 5, "no test collected", is a failure here like any other.)
step "interop (pytest vs the official AWS Encryption SDK)" 15 \
  "$ROOT/.venv/bin/python" -m pytest -c interop/pytest.ini interop
unset KMS_ENVELOPE_BIN

if [ -f proxy/tests-py/run.sh ]; then
  step "kms-proxy python tests" 15 bash proxy/tests-py/run.sh
else
  printf '\n==> kms-proxy python tests: skipped (no proxy/tests-py/run.sh)\n'
fi
if [ -f scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke" 15 bash scripts/fuzz-smoke.sh
else
  printf '\n==> fuzz smoke: skipped (no scripts/fuzz-smoke.sh)\n'
fi
if [ -f scripts/wasm-test.sh ]; then
  step "wasm-bindgen-test (Node, Chromium page and Worker)" 15 bash scripts/wasm-test.sh
else
  printf '\n==> wasm-bindgen-test: skipped (no scripts/wasm-test.sh)\n'
fi
if [ -f pkg-tests/run.sh ]; then
  step "package tests" 25 bash pkg-tests/run.sh
else
  printf '\n==> package tests: skipped (no pkg-tests/run.sh)\n'
fi
if [ -f www/tests/run.sh ]; then
  # The demo's services in the test profile (already compiled above), the
  # wasm package that the package tests just built.
  step "web demo end to end (Chromium)" 15 bash -c \
    './scripts/build-wasm.sh >/dev/null &&
     cargo build --profile ci -q -p kms-proxy -p kms-blobstore &&
     E2E_NO_BUILD=1 KMS_DEMO_BIN="$PWD/target/ci" bash www/tests/run.sh'
else
  printf '\n==> web demo: skipped (no www/tests/run.sh)\n'
fi

echo
if [ "${#failed[@]}" -eq 0 ]; then
  echo "test.sh: all $ran steps succeeded in $((SECONDS - START))s"
  exit 0
fi
echo "test.sh: ${#failed[@]} of $ran steps FAILED in $((SECONDS - START))s:"
printf '  - %s\n' "${failed[@]}"
exit 1
