#!/usr/bin/env bash
# Fuzz smoke test of kms-envelope-core: runs each cargo-fuzz target for a short
# while and fails if any of them finds a crash.
#
#   FUZZ_SECONDS=20 scripts/fuzz-smoke.sh          # default: 20 s per target
#   scripts/fuzz-smoke.sh header_parse             # only some targets
#
# Needs the nightly toolchain (`rustup toolchain install nightly`) and a C++
# compiler; installs cargo-fuzz if it is missing. Corpora live in
# core/fuzz/corpus/<target> (seeded with valid messages on every run),
# crashes in core/fuzz/artifacts/<target>; both are git-ignored.
set -euo pipefail

cd "$(dirname "$0")/../core/fuzz"
seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(header_parse decrypt)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Seed corpora: a few valid messages under the decrypt target's fixed keyring.
cargo +nightly run --quiet --bin make_corpus -- corpus

status=0
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${seconds}s"
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1; then
        echo "!! $t failed: see core/fuzz/artifacts/$t" >&2
        status=1
    fi
done
exit "$status"
