#!/usr/bin/env bash
# The main job, until the web demo exists: build the CLI, then encrypt and decrypt a
# sample file with a fresh raw AES key, and show that the round trip is exact.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p kms-envelope-cli
bin=target/release/kms-envelope
dir=demo-out
mkdir -p "$dir"
umask 077
[ -f "$dir/wrapping-key.bin" ] || head -c 32 /dev/urandom > "$dir/wrapping-key.bin"
if [ ! -f "$dir/sample.txt" ]; then
  for i in $(seq 1 20000); do echo "line $i: the storage server only ever sees ciphertext"; done > "$dir/sample.txt"
fi

"$bin" encrypt -i "$dir/sample.txt" -o "$dir/sample.txt.kmse" \
  --raw-aes-key "demo:wrapping-key:$dir/wrapping-key.bin" -c purpose=demo -c owner=alice
"$bin" decrypt -i "$dir/sample.txt.kmse" -o "$dir/sample.decrypted.txt" \
  --raw-aes-key "demo:wrapping-key:$dir/wrapping-key.bin" -c purpose=demo

cmp "$dir/sample.txt" "$dir/sample.decrypted.txt"
echo "plaintext:  $(wc -c < "$dir/sample.txt") bytes  $dir/sample.txt"
echo "message:    $(wc -c < "$dir/sample.txt.kmse") bytes  $dir/sample.txt.kmse (AWS Encryption SDK v2, suite 0x0478)"
echo "decrypted:  identical ($dir/sample.decrypted.txt)"
if "$bin" decrypt -i "$dir/sample.txt.kmse" -o "$dir/should-not-exist" \
     --raw-aes-key "demo:wrapping-key:$dir/wrapping-key.bin" -c purpose=other 2>"$dir/err.txt"; then
  echo "unexpected: a wrong encryption context decrypted" >&2; exit 1
fi
echo "wrong encryption context refused: $(cat "$dir/err.txt")"
