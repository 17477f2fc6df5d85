#!/usr/bin/env bash
# Native performance figures (issue 2):
#   1. the core throughput bench (streaming Encryptor/Decryptor against one
#      one-shot RustCrypto AES-256-GCM call, 64 MiB and 1 GiB);
#   2. the release CLI on a 1 GiB file with a raw AES key: wall-clock
#      throughput and peak memory (max RSS; requirement: < 32 MiB).
# Writes everything to bench-results/native.md (or $BENCH_OUT) and stdout.
#
# Environment: BENCH_SIZE_MIB (CLI file size, default 1024), SKIP_CORE_BENCH=1
# to measure only the CLI, and the bench's own KMSE_BENCH_* variables
# (see core/benches/throughput.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${BENCH_SIZE_MIB:-1024}
out=${BENCH_OUT:-bench-results/native.md}
limit_kib=$((32 * 1024))
mkdir -p "$(dirname "$out")"

if [ ! -x /usr/bin/time ]; then
  echo "needs GNU time at /usr/bin/time (Debian: apt-get install time)" >&2
  exit 2
fi

report=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$report"' EXIT
log() { printf '%s\n' "$*" | tee -a "$report"; }

log "# Native performance, $(date -u +%Y-%m-%d)"
log ""
log "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1);" \
  "aes: $(grep -qw aes /proc/cpuinfo && echo yes || echo no)," \
  "pclmulqdq: $(grep -qw pclmulqdq /proc/cpuinfo && echo yes || echo no)," \
  "avx2: $(grep -qw avx2 /proc/cpuinfo && echo yes || echo no);" \
  "load average at start: $(cut -d' ' -f1-3 /proc/loadavg). $(rustc --version)."
log "RUSTFLAGS: ${RUSTFLAGS:-(none)}"
log ""

cargo build --release -q -p kms-envelope-cli
bin=target/release/kms-envelope

if [ "${SKIP_CORE_BENCH:-0}" != 1 ]; then
  log "## Core throughput"
  log ""
  log '`cargo bench -p kms-envelope-core --bench throughput`. How to read it: on a shared machine the'
  log 'on-CPU columns are the steady ones (wall-clock time includes time other processes took). The'
  log '"reference" row is the cipher alone on 64 KiB slices (cache-resident): the ceiling for the'
  log 'streaming machines at the default frame length. The whole-buffer baseline is slower than that'
  log 'because aes-gcm 0.10 makes two passes (CTR, then GHASH) over a buffer far larger than the caches.'
  log "0x0578 also hashes every message byte with SHA-384 for the ECDSA signature."
  log ""
  cargo bench -q -p kms-envelope-core --bench throughput 2>/dev/null | tee -a "$report"
  log ""
fi

log "## CLI, ${size_mib} MiB file, raw AES-256 wrapping key"
log ""
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$tmp/plain.bin"
head -c 32 /dev/urandom > "$tmp/key.bin"
key="bench:key:$tmp/key.bin"
bytes=$(stat -c %s "$tmp/plain.bin")

log "| command | wall s | MB/s (wall) | user+sys s | MB/s (user+sys) | max RSS MiB | < 32 MiB |"
log "|---|---|---|---|---|---|---|"
fail=0
measure() { # label, command...
  local label=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/time.txt" "$@"
  read -r wall user sys rss_kib < "$tmp/time.txt"
  local ok=yes
  if [ "$rss_kib" -ge "$limit_kib" ]; then ok=NO; fail=1; fi
  log "$(awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss_kib" -v b="$bytes" -v ok="$ok" \
    'BEGIN { c = u + s; printf "| %s | %.2f | %.0f | %.2f | %.0f | %.1f | %s |", l, w, (w > 0 ? b / 1e6 / w : 0), c, (c > 0 ? b / 1e6 / c : 0), r / 1024, ok }')"
}
for suite in 0x0478 0x0578; do
  measure "encrypt --suite $suite" \
    "$bin" encrypt -i "$tmp/plain.bin" -o "$tmp/msg.kmse" --raw-aes-key "$key" --suite "$suite"
  measure "decrypt ($suite message)" \
    "$bin" decrypt -i "$tmp/msg.kmse" -o "$tmp/back.bin" --raw-aes-key "$key"
  cmp "$tmp/plain.bin" "$tmp/back.bin"
  rm -f "$tmp/msg.kmse" "$tmp/back.bin"
done
log ""
log "Exact commands (KEYFILE: 32 random bytes; in.bin: \`head -c $((size_mib * 1024 * 1024)) /dev/urandom\`;"
log "the output file is fsynced before the rename, which the wall time includes):"
log ""
log "    /usr/bin/time -f '%e %U %S %M' $bin encrypt -i in.bin -o msg.kmse --raw-aes-key bench:key:KEYFILE --suite 0x0478"
log "    /usr/bin/time -f '%e %U %S %M' $bin decrypt -i msg.kmse -o back.bin --raw-aes-key bench:key:KEYFILE"
log ""
log "Round trips byte-identical (cmp). Max RSS requirement (< 32 MiB): $([ $fail = 0 ] && echo met || echo NOT MET)."

cp "$report" "$out"
echo "written to $out" >&2
exit $fail
