"""The aws CLI, unchanged, against the proxy."""

import base64
import json
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="aws CLI not installed")


def aws(proxy, *args, tmp_path=None):
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=proxy.access_key,
        AWS_SECRET_ACCESS_KEY=proxy.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    env.pop("AWS_PROFILE", None)
    r = subprocess.run(["aws", "--endpoint-url", proxy.url, "--output", "json", "kms", *args],
                       capture_output=True, text=True, env=env, timeout=60)
    return r


def test_aws_cli_drives_the_proxy(proxy, tmp_path):
    r = aws(proxy, "create-key", "--description", "cli key")
    assert r.returncode == 0, r.stderr
    kid = json.loads(r.stdout)["KeyMetadata"]["KeyId"]
    assert aws(proxy, "create-alias", "--alias-name", "alias/cli-test", "--target-key-id", kid).returncode == 0
    pt = tmp_path / "pt.bin"
    pt.write_bytes(b"hello from the aws cli")
    r = aws(proxy, "encrypt", "--key-id", "alias/cli-test", "--plaintext", f"fileb://{pt}",
            "--encryption-context", "app=cli", "--query", "CiphertextBlob", "--output", "text")
    assert r.returncode == 0, r.stderr
    ct = tmp_path / "ct.bin"
    ct.write_bytes(base64.b64decode(r.stdout.strip()))
    r = aws(proxy, "decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "app=cli",
            "--query", "Plaintext", "--output", "text")
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout.strip()) == b"hello from the aws cli"
    r = aws(proxy, "decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "app=other")
    assert r.returncode != 0 and "InvalidCiphertextException" in r.stderr
    r = aws(proxy, "list-aliases", "--key-id", kid)
    assert [a["AliasName"] for a in json.loads(r.stdout)["Aliases"]] == ["alias/cli-test"]
    assert aws(proxy, "rotate-key-on-demand", "--key-id", kid).returncode == 0
    r = aws(proxy, "list-key-rotations", "--key-id", kid)
    assert len(json.loads(r.stdout)["Rotations"]) == 1
    r = aws(proxy, "schedule-key-deletion", "--key-id", kid, "--pending-window-in-days", "7")
    assert json.loads(r.stdout)["KeyState"] == "PendingDeletion"
    assert aws(proxy, "cancel-key-deletion", "--key-id", kid).returncode == 0
