#!/usr/bin/env bash
# Loopback throughput of kms-blobstore with curl: single PUT, multipart
# upload (64 MiB parts), whole GET, ranged GET. Usage:
#   blobstore/scripts/bench.sh [SIZE_MIB] [BIN_DIR]
# BIN_DIR holds kms-blobstore and kms-demo-idp (default: target/release).
set -euo pipefail
size_mib=${1:-1024}
bin=${2:-"$(cd "$(dirname "$0")/../.." && pwd)/target/release"}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cat >"$work/idp.toml" <<TOML
listen = "127.0.0.1:0"
issuer = "kms-demo-idp"
audience = ["kms-blobstore"]
TOML
"$bin/kms-demo-idp" --config "$work/idp.toml" init >/dev/null
pw=$("$bin/kms-demo-idp" --config "$work/idp.toml" add-user bench | cut -d' ' -f2)
cat >"$work/blob.toml" <<TOML
listen = "127.0.0.1:0"
data_dir = "data"
[jwt]
es256_public_key_file = "idp-data/idp-public.pem"
issuer = "kms-demo-idp"
audience = "kms-blobstore"
TOML
"$bin/kms-demo-idp" --config "$work/idp.toml" serve >"$work/idp.out" 2>/dev/null &
"$bin/kms-blobstore" --config "$work/blob.toml" >"$work/blob.out" 2>/dev/null &
for _ in $(seq 100); do
  [ -s "$work/idp.out" ] && [ -s "$work/blob.out" ] && break
  sleep 0.1
done
[ -s "$work/idp.out" ] && [ -s "$work/blob.out" ] || { echo "servers did not start" >&2; exit 1; }
idp=$(sed 's/.* on //' "$work/idp.out")
url=$(sed 's/.* on //' "$work/blob.out")
token=$(curl -sf "$idp/login" -d "{\"username\":\"bench\",\"password\":\"$pw\"}" |
  sed 's/.*"token":"\([^"]*\)".*/\1/')
auth="Authorization: Bearer $token"

head -c "$((size_mib << 20))" /dev/urandom >"$work/file"
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f MiB/s", b / 1048576 / t }'; }
bytes=$((size_mib << 20))

t=$(curl -sf -o /dev/null -w '%{time_total}' -H "$auth" -T "$work/file" "$url/o/bench/single")
echo "PUT ${size_mib} MiB:            $(rate $bytes "$t") ($t s)"

up=$(curl -sf -X POST -H "$auth" "$url/o/bench/multi?uploads" | sed 's/.*"uploadId":"\([^"]*\)".*/\1/')
split -b 64M "$work/file" "$work/part."
start=$(date +%s.%N)
n=1
for p in "$work"/part.*; do
  curl -sf -o /dev/null -H "$auth" -T "$p" "$url/o/bench/multi?uploadId=$up&partNumber=$n"
  n=$((n + 1))
done
mid=$(date +%s.%N)
curl -sf -o /dev/null -X POST -H "$auth" "$url/o/bench/multi?uploadId=$up&complete"
end=$(date +%s.%N)
echo "multipart parts (64 MiB each): $(rate $bytes "$(echo "$mid - $start" | bc)")"
echo "multipart complete:            $(echo "$end - $mid" | bc) s"

t=$(curl -sf -o /dev/null -w '%{time_total}' -H "$auth" "$url/o/bench/single")
echo "GET ${size_mib} MiB:            $(rate $bytes "$t") ($t s)"
t=$(curl -sf -o /dev/null -w '%{time_total}' -H "$auth" -H "Range: bytes=$((bytes / 2))-" "$url/o/bench/single")
echo "GET second half (Range):     $(rate $((bytes / 2)) "$t")"
t=$(curl -sf -o /dev/null -w '%{time_total}' -H "$auth" "$url/o/bench/multi")
echo "GET multipart object:        $(rate $bytes "$t") ($t s)"
cmp <(curl -sf -H "$auth" "$url/o/bench/multi") "$work/file" && echo "multipart object matches the file"
