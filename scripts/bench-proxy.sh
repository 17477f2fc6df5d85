#!/usr/bin/env bash
# GenerateDataKey and Decrypt on loopback: kms-proxy (release build) and moto's
# KMS server side by side, in the same run, with the same client (oha), the
# same concurrency and the same request bodies. Prints throughput, p50 and p99
# of a saturating run, then a fixed-rate run (oha -q with latency correction,
# wrk2-style) for the p99 at a given rate.
#
#   scripts/bench-proxy.sh
#
# Environment (defaults in brackets):
#   DURATION [10s]        length of each measured run (each is preceded by a 2 s warm-up)
#   CONC [32]             concurrent connections (every server)
#   RATE [10000]          fixed rate for kms-proxy's p99 run (half the 20,000/s goal)
#   AUDIT ["on off"]      kms-proxy configurations to measure: audit trail on (the
#                         default configuration: every request durable in the trail
#                         before it is answered) and/or off
#   ENFORCE [true]        kms-proxy's policy enforcement
#   CONFIGS               instead of AUDIT/ENFORCE: "audit:enforce" pairs measured in the
#                         same run, e.g. "on:true off:false" (policies + audit trail
#                         against neither, the 60 % comparison of the policy issue)
#   COMPARE_BIN           another kms-proxy binary (e.g. an older build) measured
#                         in the same run (each AUDIT or CONFIGS setting), rows marked "(compare)"
#   OHA [oha]             the load generator (cargo install oha --locked)
#   MOTO_SERVER [moto_server on PATH]  moto's server (pip install 'moto[server]'); absent or
#                         set empty: moto is skipped
#   CARGO_TARGET_DIR      where cargo builds (default: the workspace's target/)
#   SKIP_BUILD=1          use the existing release binary; KMS_PROXY_BIN: another one
#   RUST_LOG [warn]       the proxy's log filter
#   OPS ["GenerateDataKey Decrypt"]  operations measured
#   REPS [1]              repetitions; each repetition measures every target once, in turn,
#                         so the rows of one repetition are interleaved in time
#   FIXED [1]             0 skips the fixed-rate runs
#
# Authentication: a bearer JWT (HS256) configured in the proxy, minted here,
# so the client signs nothing per request. moto does not check signatures but
# routes on the SigV4 credential scope, so it gets a constant SigV4-shaped
# header instead (equally free for the client).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
CONC=${CONC:-32}
RATE=${RATE:-10000}
AUDIT=${AUDIT:-on off}
ENFORCE=${ENFORCE:-true}
OHA=${OHA:-oha}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export RUST_LOG=${RUST_LOG:-warn}
PY=${PYTHON:-python3}

command -v "$OHA" >/dev/null || { echo "bench-proxy: $OHA not found (cargo install oha --locked)" >&2; exit 2; }
MOTO=${MOTO_SERVER-$(command -v moto_server || true)}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p kms-proxy
fi
BIN=${KMS_PROXY_BIN:-$CARGO_TARGET_DIR/release/kms-proxy}

WORK=$(mktemp -d /tmp/bench-proxy.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET="bench-hs256-secret-0123456789abcdef-0123"
TOKEN=$("$PY" - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": "bench", "aud": "bench", "exp": int(time.time()) + 7200}).encode())
s = b(hmac.new(sys.argv[1].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
print(f"{h}.{p}.{s}")
PY
)
PROXY_AUTH="Bearer $TOKEN"
MOTO_AUTH="AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"

# One call, printing the answer; fails on a non-2xx status.
kms_call() { # url auth op body
  "$PY" - "$@" <<'PY'
import sys, urllib.request
url, auth, op, body = sys.argv[1:]
req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{op}",
    "Authorization": auth})
print(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}
json_get() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Start a proxy (binary, audit on|off) in its own directory; sets PROXY_URL.
# (Not in a subshell, so that its pid is kept for the clean-up.)
start_proxy() {
  local bin=$1 audit=$2 enforce=${3:-$ENFORCE} dir
  dir=$(mktemp -d "$WORK/proxy.XXXX")
  printf '%s' "$SECRET" > "$dir/jwt.secret"
  cat > "$dir/kms-proxy.toml" <<TOML
region = "us-east-1"
account = "111122223333"
listen = "127.0.0.1:0"
store_path = "store.db"
[root_key]
source = "file"
file = "root.key"
[jwt]
hs256_secret_file = "jwt.secret"
audience = "bench"
[audit]
enabled = $([[ $audit == on ]] && echo true || echo false)
[policy]
enforce = $enforce
TOML
  "$bin" --config "$dir/kms-proxy.toml" init >/dev/null 2>&1
  "$bin" --config "$dir/kms-proxy.toml" policy attach AdministratorAccess --group jwt-users >/dev/null
  "$bin" --config "$dir/kms-proxy.toml" serve > "$dir/out" 2> "$dir/log" &
  PIDS+=($!)
  PROXY_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$dir/out" 2>/dev/null && break; sleep 0.1; done
  PROXY_URL=$(sed -n 's/.*listening on //p' "$dir/out")
  [[ -n "$PROXY_URL" ]] || { cat "$dir/log" >&2; exit 1; }
}

# Request bodies for one server: a data key under a new key, and the Decrypt
# of one such data key. Prints two lines.
bodies() { # url auth
  local url=$1 auth=$2 key gdk blob
  key=$(kms_call "$url" "$auth" CreateKey '{"Description":"bench"}' |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["KeyMetadata"]["Arn"])')
  gdk="{\"KeyId\":\"$key\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"app\":\"bench\"}}"
  blob=$(kms_call "$url" "$auth" GenerateDataKey "$gdk" | json_get CiphertextBlob)
  echo "$gdk"
  echo "{\"CiphertextBlob\":\"$blob\",\"EncryptionContext\":{\"app\":\"bench\"}}"
}

# oha with the common options; prints "rps p50_ms p99_ms ok_ratio".
run_oha() { # url auth op body extra-args...
  local url=$1 auth=$2 op=$3 body=$4; shift 4
  "$OHA" --no-tui --output-format json -m POST \
    -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: TrentService.$op" \
    -H "Authorization: $auth" -d "$body" "$@" "$url" |
    "$PY" -c '
import json, sys
r = json.load(sys.stdin)
codes = r.get("statusCodeDistribution", {})
total = sum(codes.values()) or 1
lp = r["latencyPercentiles"]
rps = r["summary"]["requestsPerSec"]
print("%.0f %.2f %.2f %.4f" % (rps, (lp["p50"] or 0) * 1000, (lp["p99"] or 0) * 1000, codes.get("200", 0) / total))'
}

# Targets: name|url|auth|gdk body|decrypt body|fixed rate ("half" = half its maximum)|server pid.
TARGETS=()
add_proxy() { # label bin audit [enforce]
  local b
  start_proxy "$2" "$3" "${4:-$ENFORCE}"
  mapfile -t b < <(bodies "$PROXY_URL" "$PROXY_AUTH")
  TARGETS+=("$1|$PROXY_URL|$PROXY_AUTH|${b[0]}|${b[1]}|$RATE|$PROXY_PID")
}
if [[ -n "${CONFIGS:-}" ]]; then
  for c in $CONFIGS; do
    add_proxy "kms-proxy (audit ${c%%:*}, policies ${c##*:})" "$BIN" "${c%%:*}" "${c##*:}"
    [[ -n "${COMPARE_BIN:-}" ]] &&
      add_proxy "kms-proxy (audit ${c%%:*}, policies ${c##*:}, compare)" "$COMPARE_BIN" "${c%%:*}" "${c##*:}"
  done
else
  for a in $AUDIT; do
    add_proxy "kms-proxy (audit $a)" "$BIN" "$a"
    [[ -n "${COMPARE_BIN:-}" ]] && add_proxy "kms-proxy (audit $a, compare)" "$COMPARE_BIN" "$a"
  done
fi
if [[ -n "$MOTO" ]]; then
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$MOTO" -H 127.0.0.1 -p "$port" > "$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  moto_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null && break; sleep 0.2
  done
  mapfile -t b < <(bodies "http://127.0.0.1:$port/" "$MOTO_AUTH")
  TARGETS+=("moto|http://127.0.0.1:$port/|$MOTO_AUTH|${b[0]}|${b[1]}|half|$moto_pid")
else
  echo "bench-proxy: moto_server not found (pip install 'moto[server]'); moto rows skipped" >&2
fi

# CPU time (user + system) of a process so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

ROWS=()
for rep in $(seq "${REPS:-1}"); do
for op in ${OPS:-GenerateDataKey Decrypt}; do
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r name url auth gdk dec rate pid <<<"$t"
    body=$([[ $op == GenerateDataKey ]] && echo "$gdk" || echo "$dec")
    run_oha "$url" "$auth" "$op" "$body" -z 2s -c "$CONC" >/dev/null # warm-up
    # The saturating run, with the CPU time the server and the client used:
    # a figure the other load on a shared machine does not distort.
    t0=$(ticks "$pid")
    export -f run_oha
    max=$(OHA=$OHA PY=$PY /usr/bin/time -f '%U %S' -o "$WORK/client.time" \
      bash -c 'run_oha "$@"' _ "$url" "$auth" "$op" "$body" -z "$DURATION" -c "$CONC")
    server_s=$(( $(ticks "$pid") - t0 ))
    read -r cu cs < "$WORK/client.time"
    cpu=$("$PY" -c 'import sys; rps, dur, st, hz, cu, cs = map(float, sys.argv[1:]); n = rps * dur or 1
print("%.1f %.1f" % (st / hz / n * 1e6, (cu + cs) / n * 1e6))' \
      "$(cut -d' ' -f1 <<<"$max")" "${DURATION%s}" "$server_s" "$HZ" "$cu" "$cs")
    if [[ $rate == half ]]; then
      rate=$(( $(cut -d' ' -f1 <<<"$max") / 2 ))
      rate=$(( rate > 0 ? rate : 1 ))
    fi
    if [[ "${FIXED:-1}" == 1 ]]; then
      fixed=$(run_oha "$url" "$auth" "$op" "$body" -z "$DURATION" -c "$CONC" -q "$rate" --latency-correction)
    else
      fixed="- - - -"
    fi
    ROWS+=("$name|$op|$max|$rate $fixed|$cpu")
  done
done
done

echo
echo "kms-proxy ${KMS_PROXY_BIN:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')}${COMPARE_BIN:+ (compare: $COMPARE_BIN)} (release; policy enforcement $ENFORCE; JWT auth) vs moto $("$PY" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg); client on the same machine: oha $("$OHA" --version | cut -d' ' -f2), $CONC connections, $DURATION per run"
printf '\n%-30s %-15s | %8s %7s %7s %6s | %7s %7s %7s | %9s %9s %9s\n' server operation "req/s" "p50 ms" "p99 ms" "ok" "fixed/s" "p50 ms" "p99 ms" "server us" "client us" "2-core /s"
for r in "${ROWS[@]}"; do
  IFS='|' read -r name op max fixed cpu <<<"$r"
  read -r rps p50 p99 ok <<<"$max"
  read -r frate _ fp50 fp99 _ <<<"$fixed"
  read -r scpu ccpu <<<"$cpu"
  cap=$("$PY" -c 'import sys; print("%.0f" % (2e6 / (float(sys.argv[1]) + float(sys.argv[2]))))' "$scpu" "$ccpu")
  printf '%-30s %-15s | %8s %7s %7s %6s | %7s %7s %7s | %9s %9s %9s\n' "$name" "$op" "$rps" "$p50" "$p99" "$ok" "$frate" "$fp50" "$fp99" "$scpu" "$ccpu" "$cap"
done
echo
echo "saturating: $OHA --no-tui -z $DURATION -c $CONC -m POST -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: TrentService.<Op>' -H 'Authorization: <Bearer HS256 JWT | moto: constant SigV4-shaped>' -d '<body>' <url>"
echo "fixed rate: the same plus -q <fixed/s> --latency-correction (kms-proxy at $RATE/s, moto at half its maximum)"
echo "server us / client us: CPU time (user+system) per request of the server and of oha in the saturating run;"
echo "2-core /s: 2 s of CPU per second divided by their sum, the rate two dedicated cores would sustain (not measured)"
