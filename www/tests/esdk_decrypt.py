"""Decrypt a message stored by the web demo with the official AWS Encryption SDK for Python.

The MPL's AWS KMS keyring talks to kms-proxy through a boto3 KMS client whose endpoint is the
proxy; a botocore `before-send` handler replaces the SigV4 Authorization header with the user's
bearer JWT (the proxy's JWT authentication), so the key policy applies to that user.

    esdk_decrypt.py PROXY_URL KEY_ARN TOKEN CONTEXT_JSON FILE...

The FILEs are concatenated (the header object, then the body object) and decrypted as a
stream. Prints one JSON line: {"ok": true, "sha256": ..., "bytes": N, "context": {...}} or
{"ok": false, "error": ...}.
"""

import hashlib
import io
import json
import sys

import boto3
from botocore.config import Config
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput


class Concat(io.RawIOBase):
    """The files one after the other, as one readable stream."""

    def __init__(self, paths):
        self.files = [open(p, "rb") for p in paths]
        self.i = 0

    def readable(self):
        return True

    def readinto(self, b):
        while self.i < len(self.files):
            n = self.files[self.i].readinto(b)
            if n:
                return n
            self.i += 1
        return 0


def main():
    proxy, arn, token, ctx = sys.argv[1:5]
    paths = sys.argv[5:]
    ctx = json.loads(ctx)
    kms = boto3.client(
        "kms", endpoint_url=proxy, region_name="us-east-1",
        aws_access_key_id="bearer", aws_secret_access_key="bearer",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )

    def bearer(request, **_):
        request.headers["Authorization"] = f"Bearer {token}"

    kms.meta.events.register("before-send.kms", bearer)
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    keyring = mpl.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=arn, kms_client=kms))
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    h = hashlib.sha256()
    n = 0
    try:
        src = io.BufferedReader(Concat(paths), 1 << 20)
        dec = client.stream(mode="d", source=src, keyring=keyring, encryption_context=ctx)
        for chunk in dec:
            h.update(chunk)
            n += len(chunk)
        stored = {k: v for k, v in dec.header.encryption_context.items() if not k.startswith("aws-crypto-")}
        dec.close()
        print(json.dumps({"ok": True, "sha256": h.hexdigest(), "bytes": n, "context": stored}))
    except Exception as e:  # the test reports it, with the keyring's own errors (the MPL lists them)
        causes = [str(x) for a in e.args for x in (getattr(a, "list", None) or [])]
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "causes": causes}))


if __name__ == "__main__":
    main()
