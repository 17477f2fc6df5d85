#!/usr/bin/env bash
# Initialise the web demo's state directory (used by scripts/demo.sh and www/tests):
#   demo-init.sh STATE_DIR ORIGINS BIN_DIR [PROXY_LISTEN BLOB_LISTEN IDP_LISTEN]
# ORIGINS: comma-separated CORS origins of the www/ page. Creates
#   idp/      kms-demo-idp keys and users alice and bob (passwords in passwords.txt, mode 0600)
#   proxy/    kms-proxy store + root key, an admin access key, and a customer key whose key policy
#             lets each JWT user GenerateDataKey/Decrypt/ReEncryptFrom/ReEncryptTo only with
#             encryption context owner = their sub (ReEncrypt: both the source and the
#             destination context), and Decrypt when reader = their sub (files shared with them)
#   blob/     kms-blobstore config and data dir
#   key-arn   the customer key's ARN
set -euo pipefail
STATE=$1; ORIGINS=$2; BIN=$3
PROXY_LISTEN=${4:-127.0.0.1:0}; BLOB_LISTEN=${5:-127.0.0.1:0}; IDP_LISTEN=${6:-127.0.0.1:0}
HERE=$(cd "$(dirname "$0")" && pwd)
REGION=us-east-1
ACCOUNT=111122223333
umask 077
mkdir -p "$STATE/idp" "$STATE/proxy" "$STATE/blob"
STATE=$(cd "$STATE" && pwd)
toml_list() { local out="" o; IFS=',' read -ra arr <<<"$1"; for o in "${arr[@]}"; do out+="${out:+, }\"$o\""; done; echo "[$out]"; }
CORS=$(toml_list "$ORIGINS")

cat > "$STATE/idp/idp.toml" <<TOML
listen = "$IDP_LISTEN"
issuer = "kms-demo-idp"
audience = ["kms-proxy", "kms-blobstore"]
token_ttl_secs = 900
[cors]
allowed_origins = $CORS
TOML
"$BIN/kms-demo-idp" --config "$STATE/idp/idp.toml" init >/dev/null
: > "$STATE/passwords.txt"
for u in alice bob; do "$BIN/kms-demo-idp" --config "$STATE/idp/idp.toml" add-user "$u" >> "$STATE/passwords.txt"; done
PUB=$STATE/idp/idp-data/idp-public.pem

cat > "$STATE/proxy/kms-proxy.toml" <<TOML
region = "$REGION"
account = "$ACCOUNT"
listen = "$PROXY_LISTEN"
store_path = "store.db"
[root_key]
source = "file"
file = "root.key"
[jwt]
es256_public_key_file = "$PUB"
issuer = "kms-demo-idp"
audience = "kms-proxy"
[cors]
allowed_origins = $CORS
TOML
P() { env -u KMS_PROXY_LISTEN "$BIN/kms-proxy" --config "$STATE/proxy/kms-proxy.toml" "$@"; }
P init >/dev/null
P access-key create --principal admin > "$STATE/proxy/admin-access-key.json"
P policy attach AdministratorAccess --principal admin >/dev/null
AK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKeyId"])' "$STATE/proxy/admin-access-key.json")
SK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["SecretAccessKey"])' "$STATE/proxy/admin-access-key.json")

cat > "$STATE/proxy/key-policy.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::$ACCOUNT:user/admin"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "OwnDataOnly", "Effect": "Allow", "Principal": "*",
     "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "\${jwt:sub}"},
                   "Null": {"jwt:sub": "false"}}},
    {"Sid": "ReadWhatIsSharedWithMe", "Effect": "Allow", "Principal": "*",
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:reader": "\${jwt:sub}"},
                   "Null": {"jwt:sub": "false"}}}
  ]
}
JSON

# Create the key through the API, with the proxy running on a free port for a moment.
LOG=$STATE/proxy/init-serve.log
coproc PROXY { exec env KMS_PROXY_LISTEN=127.0.0.1:0 "$BIN/kms-proxy" --config "$STATE/proxy/kms-proxy.toml" serve 2>"$LOG"; }
PROXY_PID_=$PROXY_PID
read -r line <&"${PROXY[0]}" || true
URL=${line##*listening on }
if [[ "$line" != *"listening on"* ]]; then echo "kms-proxy did not start: $line (see $LOG)" >&2; kill "$PROXY_PID_" 2>/dev/null; exit 1; fi
ARN=$(python3 "$HERE/demo_create_key.py" "$URL" "$REGION" "$AK" "$SK" "$STATE/proxy/key-policy.json") || { kill "$PROXY_PID_"; exit 1; }
kill "$PROXY_PID_"; wait "$PROXY_PID_" 2>/dev/null || true
echo "$ARN" > "$STATE/key-arn"

cat > "$STATE/blob/blobstore.toml" <<TOML
listen = "$BLOB_LISTEN"
data_dir = "data"
[jwt]
es256_public_key_file = "$PUB"
issuer = "kms-demo-idp"
audience = "kms-blobstore"
[limits]
quota_bytes = 21474836480
max_object_bytes = 5368709120
[cors]
allowed_origins = $CORS
TOML
touch "$STATE/initialised"
