"""The official Python AWS Encryption SDK with the MPL's AWS KMS keyring, through kms-proxy
(boto3 KMS client, endpoint_url = the proxy, SigV4 admin credentials). For the package's KMS
tests: messages made in the browser through the proxy decrypt here, and the other way.

    kms_esdk.py encrypt <endpoint> <access-key> <secret-key> <key-arn> <context-json>  (stdin: base64 plaintext)
    kms_esdk.py decrypt <endpoint> <access-key> <secret-key> <key-arn> <context-json>  (stdin: base64 message)

Prints one JSON line: {"ok": true, "out": <base64>, "edks": [[provider id, provider info]...]}
or {"ok": false, "error": ...}.
"""

import base64
import json
import sys

import boto3
from botocore.config import Config
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput


def main():
    op, endpoint, ak, sk, arn, ctx = sys.argv[1:7]
    ctx = json.loads(ctx)
    data = base64.b64decode(sys.stdin.read().strip())
    kms = boto3.client(
        "kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ak, aws_secret_access_key=sk,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    keyring = mpl.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=arn, kms_client=kms))
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    try:
        if op == "encrypt":
            out, header = client.encrypt(source=data, keyring=keyring, encryption_context=ctx)
        else:
            out, header = client.decrypt(source=data, keyring=keyring, encryption_context=ctx)
        edks = [[e.key_provider.provider_id, e.key_provider.key_info.decode()] for e in header.encrypted_data_keys]
        stored = {k: v for k, v in header.encryption_context.items() if not k.startswith("aws-crypto-")}
        print(json.dumps({"ok": True, "out": base64.b64encode(out).decode(), "edks": edks, "context": stored}))
    except Exception as e:  # the test reports it
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))


if __name__ == "__main__":
    main()
