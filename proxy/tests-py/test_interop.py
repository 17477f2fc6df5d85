"""Interop through the proxy: our CLI (`kms-envelope --kms-proxy`) and the
official Python ESDK (MPL KMS keyring, boto3 KMS client pointed at the
proxy) each decrypt what the other encrypted, with SigV4 access keys and with
bearer JWTs; and the CLI's KMS error codes against the proxy."""

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import ACCOUNT, REGION, Proxy, good_claims, jwt

esdk = pytest.importorskip("aws_encryption_sdk")
pytest.importorskip("aws_cryptographic_material_providers.mpl")

from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders  # noqa: E402
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig  # noqa: E402
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402


def cli_bin():
    env = os.environ.get("KMS_ENVELOPE_BIN")
    if env:
        return env
    root = Path(__file__).resolve().parents[2]
    return str(Path(os.environ.get("CARGO_TARGET_DIR", root / "target")) / "debug" / "kms-envelope")


pytestmark = pytest.mark.skipif(not Path(cli_bin()).exists(), reason="kms-envelope CLI not built")

DATA = b"interop through kms-proxy \x00\x01\x02 " * 3000
CTX = {"tenant": "t-42", "purpose": "interop"}


@pytest.fixture(scope="module")
def ip(tmp_path_factory):
    d = tmp_path_factory.mktemp("interop")
    p = Proxy(d).start()
    creds = json.loads(p.run("access-key", "create", "--principal", "cli-user").stdout)
    p.run("policy", "attach", "AdministratorAccess", "--principal", "cli-user")
    p.cli_key, p.cli_secret = creds["AccessKeyId"], creds["SecretAccessKey"]
    p.token_file = d / "token.jwt"
    p.token_file.write_text(jwt(good_claims(sub="browser-user", exp=int(__import__("time").time()) + 3600)))
    kms = p.client(p.cli_key, p.cli_secret)
    p.arn = kms.create_key(Description="interop")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/interop", TargetKeyId=p.arn)
    yield p
    p.stop()


def cli(p, mode, args, data, auth="sigv4", extra_env=None, tmp=None):
    """Run kms-envelope; returns (exit status, stdout bytes, stderr text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cmd = [cli_bin(), mode, "-i", "-", "-o", "-", "--kms-proxy", p.url, "--kms-timeout-ms", "3000", *args]
    if auth == "sigv4":
        env.update(AWS_ACCESS_KEY_ID=p.cli_key, AWS_SECRET_ACCESS_KEY=p.cli_secret, AWS_REGION=REGION)
    elif auth == "jwt":
        cmd += ["--token-file", str(p.token_file)]
    else:
        cmd += ["--token-file", str(auth)]
    env.update(extra_env or {})
    r = subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=120)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def ctx_args(ctx):
    return [a for k, v in ctx.items() for a in ("-c", f"{k}={v}")]


def keyring(kms, arn):
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return mpl.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=arn, kms_client=kms))


def client():
    return esdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


@pytest.mark.parametrize("auth", ["sigv4", "jwt"])
@pytest.mark.parametrize("key_ref", ["arn", "alias"])
def test_cli_encrypts_python_esdk_decrypts(ip, auth, key_ref):
    key_id = ip.arn if key_ref == "arn" else "alias/interop"
    rc, ct, err = cli(ip, "encrypt", ["--key-id", key_id, *ctx_args(CTX)], DATA, auth=auth)
    assert rc == 0, err
    pt, header = client().decrypt(source=ct, keyring=keyring(ip.client(), ip.arn))
    assert pt == DATA
    for k, v in CTX.items():
        assert header.encryption_context[k] == v
    edk = next(iter(header.encrypted_data_keys))
    # Written exactly as the official KMS keyring writes it: provider aws-kms, the key ARN.
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info.decode() == ip.arn


@pytest.mark.parametrize("auth", ["sigv4", "jwt"])
@pytest.mark.parametrize("mode", ["key-id", "discovery"])
def test_python_esdk_encrypts_cli_decrypts(ip, auth, mode):
    ct, _ = client().encrypt(source=DATA, keyring=keyring(ip.client(), ip.arn), encryption_context=CTX)
    keys = ["--key-id", ip.arn] if mode == "key-id" else ["--kms-discovery"]
    rc, pt, err = cli(ip, "decrypt", [*keys, *ctx_args(CTX)], ct, auth=auth)
    assert rc == 0, err
    assert pt == DATA
    # A tampered message is refused, and nothing is released.
    bad = bytearray(ct)
    bad[len(bad) // 2] ^= 1
    rc, pt, err = cli(ip, "decrypt", keys, bytes(bad), auth=auth)
    assert rc == 1 and pt == b""


def code_of(err):
    assert "error[" in err, err
    return err.split("error[", 1)[1].split("]", 1)[0]


def test_cli_error_access_denied(ip, tmp_path):
    bad = tmp_path / "bad.jwt"
    bad.write_text(jwt(good_claims(), secret=b"not-the-proxy-secret-0123456789abcdef"))
    rc, out, err = cli(ip, "encrypt", ["--key-id", ip.arn], b"x", auth=bad)
    assert (rc, code_of(err)) == (1, "KMS_ACCESS_DENIED") and out == b""
    expired = tmp_path / "expired.jwt"
    expired.write_text(jwt(good_claims(exp=1000, nbf=900)))
    rc, _, err = cli(ip, "encrypt", ["--key-id", ip.arn], b"x", auth=expired)
    assert (rc, code_of(err)) == (1, "KMS_ACCESS_DENIED")
    rc, _, err = cli(ip, "encrypt", ["--key-id", ip.arn], b"x",
                     extra_env={"AWS_SECRET_ACCESS_KEY": "wrong" + ip.cli_secret[5:]})
    assert (rc, code_of(err)) == (1, "KMS_ACCESS_DENIED")


def test_cli_error_key_not_found(ip):
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000"
    for key_id in [missing, "alias/does-not-exist"]:
        rc, out, err = cli(ip, "encrypt", ["--key-id", key_id], b"x")
        assert (rc, code_of(err)) == (1, "KMS_KEY_NOT_FOUND"), err
        assert out == b""


def test_cli_error_key_disabled(ip):
    kms = ip.client()
    arn = kms.create_key(Description="to disable")["KeyMetadata"]["Arn"]
    rc, ct, err = cli(ip, "encrypt", ["--key-id", arn], DATA)
    assert rc == 0, err
    kms.disable_key(KeyId=arn)
    rc, out, err = cli(ip, "encrypt", ["--key-id", arn], b"x")
    assert (rc, code_of(err)) == (1, "KMS_KEY_DISABLED") and out == b""
    rc, out, err = cli(ip, "decrypt", ["--key-id", arn], ct)
    assert (rc, code_of(err)) == (1, "KMS_KEY_DISABLED") and out == b""
    kms.enable_key(KeyId=arn)
    rc, out, err = cli(ip, "decrypt", ["--key-id", arn], ct)
    assert rc == 0 and out == DATA


def test_cli_error_proxy_down(ip):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now

    class Down:
        url = f"http://127.0.0.1:{port}"
        cli_key, cli_secret, token_file = ip.cli_key, ip.cli_secret, ip.token_file

    rc, out, err = cli(Down, "encrypt", ["--key-id", ip.arn], b"x")
    assert (rc, code_of(err)) == (1, "KMS_UNREACHABLE") and out == b""
