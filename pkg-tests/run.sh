#!/usr/bin/env bash
# Package tests of kms-envelope, the way users get it:
#   build (scripts/build-wasm.sh) -> npm pack -> install the tarball into a consumer
#   project (target/pkg-consumer, from pkg-tests/consumer) -> node:test, Playwright in
#   Chromium (page, dedicated Worker, Service Worker), Python-SDK interop, tsc, esbuild, Vite.
# Needs: node 20+, npm registry access for the consumer's devDependencies, /usr/bin/chromium,
# a Python with aws-encryption-sdk ($KMS_ENVELOPE_PYTHON, else .venv/bin/python).
# Prints a final line "N passed, N failed" and exits non-zero on any failure.
# PKG_TESTS=node,kms,browser,types,bundle selects parts (default: all). The kms part builds and
# starts kms-proxy (target/debug/kms-proxy) and needs the Python's boto3 and the MPL too.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONSUMER=$ROOT/target/pkg-consumer
PY=${KMS_ENVELOPE_PYTHON:-$ROOT/.venv/bin/python}
PARTS=${PKG_TESTS:-node,kms,browser,types,bundle}
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }
want() { [[ ",$PARTS," == *",$1,"* ]]; }

# 1. build and pack
if ! ./scripts/build-wasm.sh; then bad "build (scripts/build-wasm.sh)"; finish; fi
TARBALL=$(cd target/npm && npm pack --silent ./kms-envelope | tail -1)
if [ ! -f "target/npm/$TARBALL" ]; then bad "npm pack"; finish; fi
ok "npm pack: $TARBALL ($(wc -c < "target/npm/$TARBALL") bytes)"

# 2. the consumer project
mkdir -p "$CONSUMER"
rm -rf "$CONSUMER/fixtures" "$CONSUMER/sink" "$CONSUMER/dist"
cp -r pkg-tests/consumer/. "$CONSUMER/"
if ! (cd "$CONSUMER" && npm install --silent --no-audit --no-fund --no-save \
      "$ROOT/target/npm/$TARBALL" >/dev/null); then
  bad "npm install of the consumer project"; finish
fi
ok "installed $TARBALL into the consumer project"
mkdir -p "$CONSUMER/fixtures/esdk"
for set in net-4.0.1 net-4.0.0-valid net-4.0.0-invalid; do
  cp -r "testdata/esdk-official/$set" "$CONSUMER/fixtures/esdk/"
done
if "$PY" -c 'import aws_encryption_sdk' 2>/dev/null; then
  "$PY" pkg-tests/interop/esdk_py.py write "$CONSUMER/fixtures/python" >/dev/null && ok "Python SDK wrote interop messages"
else
  bad "no Python with aws-encryption-sdk at $PY (run scripts/setup-test-deps.sh)"
fi

count_tap() { # count node:test TAP results in $1
  local p f
  p=$(grep -cE '^# pass ' "$1" >/dev/null && sed -n 's/^# pass //p' "$1" | tail -1)
  f=$(sed -n 's/^# fail //p' "$1" | tail -1)
  PASS=$((PASS + ${p:-0})); FAIL=$((FAIL + ${f:-0}))
  [ -n "$p" ] || bad "$2 produced no results"
}

# 3. node:test
if want node; then
  (cd "$CONSUMER" && node --test --test-reporter=tap test/ > node-tests.tap 2>&1)
  grep -E '^(not ok|ok) ' "$CONSUMER/node-tests.tap" | sed 's/^/  node: /'
  grep -A12 -E '^not ok ' "$CONSUMER/node-tests.tap" | head -60
  count_tap "$CONSUMER/node-tests.tap" "node:test"
fi

# 3b. KmsProxyKeyring and the secrets API against a real kms-proxy, in Node and Chromium,
# with the Python SDK's KMS keyring through the same proxy
if want kms; then
  if cargo build --quiet -p kms-proxy; then
    (cd "$CONSUMER" && KMS_ENVELOPE_ROOT="$ROOT" KMS_ENVELOPE_PYTHON="$PY" timeout 300 \
      node --test --test-reporter=tap kms/kms.test.mjs > kms-tests.tap 2>&1)
    grep -E '^(not ok|ok) ' "$CONSUMER/kms-tests.tap" | sed 's/^/  kms: /'
    grep -A12 -E '^not ok ' "$CONSUMER/kms-tests.tap" | head -60
    count_tap "$CONSUMER/kms-tests.tap" "kms tests"
  else
    bad "cargo build -p kms-proxy"
  fi
fi

# 4. TypeScript consumer and bundles (the Vite bundle is loaded in Chromium next)
if want types; then
  if (cd "$CONSUMER" && npx --no-install tsc -p tsconfig.json); then ok "tsc --noEmit of a TypeScript consumer"; else bad "tsc --noEmit"; fi
fi
if want bundle; then
  if (cd "$CONSUMER" && node bundle/check-bundles.mjs); then ok "esbuild and Vite bundles without Node built-ins"; else bad "bundles"; fi
fi
# 5. Chromium: page, dedicated Worker, Service Worker
if want browser; then
  if (cd "$CONSUMER" && node browser/run-browser.mjs > browser-tests.log 2>&1); then :; fi
  cat "$CONSUMER/browser-tests.log"
  p=$(sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$CONSUMER/browser-tests.log")
  f=$(sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$CONSUMER/browser-tests.log")
  if [ -z "$p" ]; then bad "browser tests produced no summary"; else PASS=$((PASS + p)); FAIL=$((FAIL + f)); fi
fi

# 6. our messages decrypt with the Python SDK
if "$PY" -c 'import aws_encryption_sdk' 2>/dev/null && [ -d "$CONSUMER/sink" ]; then
  while IFS= read -r line; do
    name=$(node -e 'const j=JSON.parse(process.argv[1]);console.log(j.name+(j.ok?"":" :: "+j.error))' "$line")
    if [[ "$line" == *'"ok": true'* ]]; then PASS=$((PASS + 1)); else bad "$name"; fi
  done < <("$PY" pkg-tests/interop/esdk_py.py read "$CONSUMER"/sink/*)
  echo "python interop: read $(ls "$CONSUMER"/sink/*/*.ct | wc -l) messages from $(ls "$CONSUMER/sink" | tr '\n' ' ')"
fi

finish
