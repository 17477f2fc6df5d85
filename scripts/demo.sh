#!/usr/bin/env bash
# The web demo: end-to-end encrypted uploads.
#   scripts/demo.sh            build, initialise demo-state/ on the first run, serve, print the URL
#   scripts/demo.sh --reset    wipe demo-state/ first (new keys, users, passwords and files)
# Ports (override with env): WWW_PORT 8080, PROXY_PORT 8090, BLOB_PORT 8091, IDP_PORT 8092.
# Needs: Rust (rustup), node 20+, npm registry access (wasm-opt, once), python3. Ctrl-C stops all.
# The CLI-only demo is scripts/demo-cli.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${DEMO_STATE:-$ROOT/demo-state}
WWW_PORT=${WWW_PORT:-8080}; PROXY_PORT=${PROXY_PORT:-8090}; BLOB_PORT=${BLOB_PORT:-8091}; IDP_PORT=${IDP_PORT:-8092}
HOST=127.0.0.1
ORIGINS="http://$HOST:$WWW_PORT,http://localhost:$WWW_PORT"

if [ "${1:-}" = "--reset" ]; then rm -rf "$STATE"; echo "demo state reset"; fi

BIN=${DEMO_BIN:-$ROOT/target/release}
if [ -z "${DEMO_NO_BUILD:-}" ]; then   # DEMO_NO_BUILD=1: use what is built (DEMO_BIN: the binaries)
  echo "building the wasm package and the release binaries (first time: a few minutes)..."
  ./scripts/build-wasm.sh
  cargo build --release -q -p kms-proxy -p kms-blobstore
fi

if [ ! -f "$STATE/initialised" ]; then
  rm -rf "$STATE"
  ./scripts/demo-init.sh "$STATE" "$ORIGINS" "$BIN" "$HOST:$PROXY_PORT" "$HOST:$BLOB_PORT" "$HOST:$IDP_PORT" 2>/dev/null
  echo "initialised $STATE"
fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME LOGFILE CMD...: run in the background, wait for its "listening on" line.
start() {
  local name=$1 log=$2; shift 2
  : > "$log.out"
  "$@" > "$log.out" 2> "$log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$log.out"; then return 0; fi
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then echo "$name failed to start; see $log" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "$name did not start in 10 s; see $log" >&2; exit 1
}
start kms-proxy "$STATE/proxy/serve.log" env -u KMS_PROXY_LISTEN "$BIN/kms-proxy" --config "$STATE/proxy/kms-proxy.toml" serve
start kms-blobstore "$STATE/blob/serve.log" "$BIN/kms-blobstore" --config "$STATE/blob/blobstore.toml"
start kms-demo-idp "$STATE/idp/serve.log" "$BIN/kms-demo-idp" --config "$STATE/idp/idp.toml" serve
cat > "$STATE/www-config.json" <<JSON
{"proxy": "http://$HOST:$PROXY_PORT", "blob": "http://$HOST:$BLOB_PORT", "idp": "http://$HOST:$IDP_PORT",
 "keyArn": "$(cat "$STATE/key-arn")"}
JSON
# A copy of the package, so a rebuild of target/npm does not pull it from under the page.
rm -rf "$STATE/pkg" && cp -r "$ROOT/target/npm/kms-envelope" "$STATE/pkg"
if [ ! -f "$STATE/pkg/index.js" ] || [ ! -f "$STATE/pkg/wasm/kms_envelope_bg.wasm" ]; then
  echo "the package in target/npm/kms-envelope is incomplete (a build running?): run ./scripts/build-wasm.sh" >&2; exit 1
fi
start www "$STATE/www.log" node www/server.mjs --listen "$HOST:$WWW_PORT" --pkg "$STATE/pkg" --config "$STATE/www-config.json"

echo
echo "kms-proxy      http://$HOST:$PROXY_PORT   (key $(cat "$STATE/key-arn"))"
echo "kms-blobstore  http://$HOST:$BLOB_PORT   (ciphertext in $STATE/blob/data)"
echo "kms-demo-idp   http://$HOST:$IDP_PORT"
echo "users and passwords:"
sed 's/^/  /' "$STATE/passwords.txt"
echo
echo "open http://$HOST:$WWW_PORT/   (Ctrl-C stops everything)"
wait
