#!/usr/bin/env bash
# Build kms-proxy and run its Python tests (boto3, the aws CLI, the official ESDK).
#
#   proxy/tests-py/run.sh [pytest args...]
#
# Environment:
#   CARGO_TARGET_DIR       where cargo builds (default: the workspace's target/)
#   KMS_PROXY_PYTHON       the Python to use (default: $KMS_PROXY_VENV/bin/python if it exists, else python3)
#   KMS_PROXY_VENV         a venv to use or create (default: <repo>/.venv)
#   KMS_PROXY_TEST_INSTALL=1  create the venv and pip-install requirements.txt if modules are missing
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${KMS_PROXY_VENV:-$ROOT/.venv}

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p kms-proxy -p kms-envelope-cli
export KMS_PROXY_BIN="$CARGO_TARGET_DIR/debug/kms-proxy"
export KMS_ENVELOPE_BIN="$CARGO_TARGET_DIR/debug/kms-envelope"

if [[ -n "${KMS_PROXY_PYTHON:-}" ]]; then
  PY=$KMS_PROXY_PYTHON
elif [[ -x "$VENV/bin/python" ]]; then
  PY=$VENV/bin/python
else
  PY=python3
fi

check='import pytest, boto3, aws_encryption_sdk, aws_cryptographic_material_providers'
if ! "$PY" -c "$check" 2>/dev/null; then
  if [[ "${KMS_PROXY_TEST_INSTALL:-0}" == 1 ]]; then
    [[ -x "$VENV/bin/python" ]] || python3 -m venv --system-site-packages "$VENV"
    PY=$VENV/bin/python
    "$PY" -m pip install --quiet -r "$HERE/requirements.txt"
  else
    echo "kms-proxy tests: missing Python packages for $PY." >&2
    echo "  pip install -r $HERE/requirements.txt   (or rerun with KMS_PROXY_TEST_INSTALL=1)" >&2
    exit 2
  fi
fi

cd "$HERE"
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
