#!/usr/bin/env bash
# The Parameter Store on loopback (release kms-proxy, audit trail on, policies
# enforced, bearer JWT): GetParametersByPath pages over 10,000 parameters
# (first page and a page from the middle, through NextToken) and PutParameter
# throughput (a new version of one parameter per request). Client: oha, on the
# same machine.
#
#   scripts/bench-ssm.sh          (DURATION [10s], CONC [16], N [10000])
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
CONC=${CONC:-16}
N=${N:-10000}
OHA=${OHA:-oha}
PY=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export RUST_LOG=${RUST_LOG:-warn}
command -v "$OHA" >/dev/null || { echo "bench-ssm: $OHA not found (cargo install oha --locked)" >&2; exit 2; }
[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p kms-proxy
BIN=${KMS_PROXY_BIN:-$CARGO_TARGET_DIR/release/kms-proxy}

WORK=$(mktemp -d /tmp/bench-ssm.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
SECRET="bench-hs256-secret-0123456789abcdef-0123"
printf '%s' "$SECRET" > "$WORK/jwt.secret"
cat > "$WORK/kms-proxy.toml" <<TOML
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
TOML
"$BIN" --config "$WORK/kms-proxy.toml" init >/dev/null 2>&1
"$BIN" --config "$WORK/kms-proxy.toml" policy attach AdministratorAccess --group jwt-users >/dev/null
"$BIN" --config "$WORK/kms-proxy.toml" serve > "$WORK/out" 2> "$WORK/log" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on //p' "$WORK/out")
TOKEN=$("$PY" - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": "bench", "aud": "bench", "exp": int(time.time()) + 7200}).encode())
print(f"{h}.{p}.{b(hmac.new(sys.argv[1].encode(), f'{h}.{p}'.encode(), hashlib.sha256).digest())}")
PY
)

# Fill: N parameters in 100 folders, over keep-alive connections.
t0=$(date +%s.%N)
"$PY" - "$URL" "$TOKEN" "$N" <<'PY'
import http.client, json, sys, threading, urllib.parse
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlsplit(url)
def work(lo, hi):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(lo, hi):
        body = json.dumps({"Name": f"/bench/f{i % 100:02d}/p{i:05d}", "Value": f"value-{i}", "Type": "String"})
        c.request("POST", "/", body, {"Content-Type": "application/x-amz-json-1.1",
                  "X-Amz-Target": "AmazonSSM.PutParameter", "Authorization": f"Bearer {token}"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
ts = [threading.Thread(target=work, args=(k * n // 8, (k + 1) * n // 8)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
fill=$("$PY" -c "print('%.1f' % (float('$(date +%s.%N)') - $t0))")

run() { # op body extra...
  local op=$1 body=$2; shift 2
  "$OHA" --no-tui --output-format json -m POST -H "Content-Type: application/x-amz-json-1.1" \
    -H "X-Amz-Target: AmazonSSM.$op" -H "Authorization: Bearer $TOKEN" -d "$body" "$@" "$URL" |
    "$PY" -c '
import json, sys
r = json.load(sys.stdin); c = r.get("statusCodeDistribution", {}); t = sum(c.values()) or 1
lp = r["latencyPercentiles"]
print("%8.0f %8.2f %8.2f %7.4f" % (r["summary"]["requestsPerSec"], (lp["p50"] or 0) * 1e3, (lp["p99"] or 0) * 1e3, c.get("200", 0) / t))'
}
mid=$("$PY" -c 'import base64; print(base64.urlsafe_b64encode(b"/bench/f50/p05050").rstrip(b"=").decode())')
first='{"Path":"/bench","Recursive":true,"MaxResults":10}'
middle="{\"Path\":\"/bench\",\"Recursive\":true,\"MaxResults\":10,\"NextToken\":\"$mid\"}"
put='{"Name":"/bench-put/x","Value":"v","Type":"String","Overwrite":true}'
run GetParametersByPath "$first" -z 2s -c "$CONC" >/dev/null
printf '%-44s %8s %8s %8s %7s\n' case "req/s" "p50 ms" "p99 ms" ok
printf '%-44s %s\n' "GetParametersByPath, first page of 10" "$(run GetParametersByPath "$first" -z "$DURATION" -c "$CONC")"
printf '%-44s %s\n' "GetParametersByPath, a middle page (NextToken)" "$(run GetParametersByPath "$middle" -z "$DURATION" -c "$CONC")"
printf '%-44s %s\n' "GetParametersByPath at 500/s (fixed rate)" "$(run GetParametersByPath "$middle" -z "$DURATION" -c "$CONC" -q 500 --latency-correction)"
printf '%-44s %s\n' "PutParameter (new version, audit on)" "$(run PutParameter "$put" -z "$DURATION" -c "$CONC")"
echo
echo "$N parameters filled in ${fill}s; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); oha $("$OHA" --version | cut -d' ' -f2), $CONC connections, $DURATION per run"
