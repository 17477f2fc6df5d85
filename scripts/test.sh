#!/usr/bin/env bash
# Run every test of the project: the one command for developers and CI.
#
#   1. scripts/setup-test-deps.sh  (installs what is missing, skips the rest)
#   2. cargo fmt --all -- --check
#   3. cargo clippy --workspace --all-targets -- -D warnings
#   4. cargo test --workspace --release   (release: the crypto-heavy tests stay fast)
#   5. the interop suite (pytest): our CLI against the official AWS Encryption SDK
#   6. proxy/tests-py/run.sh (the kms-proxy's Python tests), if it exists
#   7. scripts/fuzz-smoke.sh, if it exists
#   8. pkg-tests/run.sh, if it exists
#
# Every step runs even when an earlier one failed (setup excepted), so one run
# shows every failure; the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

failed=()
ran=0
START=$SECONDS

step() {
  local name=$1
  shift
  local t0=$SECONDS rc
  printf '\n==> %s\n' "$name"
  "$@"
  rc=$?
  ran=$((ran + 1))
  if [ "$rc" -eq 0 ]; then
    printf '==> %s: ok (%ss)\n' "$name" "$((SECONDS - t0))"
  else
    printf '==> %s: FAILED, exit %s (%ss)\n' "$name" "$rc" "$((SECONDS - t0))"
    failed+=("$name")
  fi
  return 0
}

if ! bash scripts/setup-test-deps.sh; then
  echo "test.sh: scripts/setup-test-deps.sh failed; nothing was tested" >&2
  exit 1
fi

step "cargo fmt" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo test (release)" cargo test --workspace --release

interop() {
  # The CLI binary that `cargo test --release` built for the CLI's own tests;
  # if that step could not build it, conftest.py builds it itself.
  local bin=$ROOT/target/release/kms-envelope
  if [ -x "$bin" ] && [ "${#failed[@]}" -eq 0 ]; then
    export KMS_ENVELOPE_BIN=$bin
  fi
  "$ROOT/.venv/bin/python" -m pytest -c interop/pytest.ini interop
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "interop: pytest collected no tests; that is a failure here" >&2
  fi
  return "$rc"
}
step "interop (pytest vs the official AWS Encryption SDK)" interop

if [ -f proxy/tests-py/run.sh ]; then
  step "kms-proxy python tests" bash proxy/tests-py/run.sh
else
  printf '\n==> kms-proxy python tests: skipped (no proxy/tests-py/run.sh)\n'
fi
if [ -f scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke" bash scripts/fuzz-smoke.sh
else
  printf '\n==> fuzz smoke: skipped (no scripts/fuzz-smoke.sh)\n'
fi
if [ -f pkg-tests/run.sh ]; then
  step "package tests" bash pkg-tests/run.sh
else
  printf '\n==> package tests: skipped (no pkg-tests/run.sh)\n'
fi

echo
if [ "${#failed[@]}" -eq 0 ]; then
  echo "test.sh: all $ran steps succeeded in $((SECONDS - START))s"
  exit 0
fi
echo "test.sh: ${#failed[@]} of $ran steps FAILED in $((SECONDS - START))s:"
printf '  - %s\n' "${failed[@]}"
exit 1
