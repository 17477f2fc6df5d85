"""The official Python AWS Encryption SDK, with the MPL's KMS keyring and a
boto3 KMS client pointed at the proxy, encrypts and decrypts through it."""

import pytest

esdk = pytest.importorskip("aws_encryption_sdk")
mpl_mod = pytest.importorskip("aws_cryptographic_material_providers.mpl")

from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders  # noqa: E402
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig  # noqa: E402
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402


def keyring(kms, arn):
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return mpl.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=arn, kms_client=kms))


def test_esdk_kms_keyring_round_trip(proxy, kms):
    arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    client = esdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    kr = keyring(kms, arn)
    data = b"envelope-encrypted through kms-proxy " * 1000
    ctx = {"tenant": "t1", "purpose": "esdk-test"}
    ct, header = client.encrypt(source=data, keyring=kr, encryption_context=ctx)
    assert ct != data and len(header.encrypted_data_keys) == 1
    edk = next(iter(header.encrypted_data_keys))
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info.decode() == arn
    pt, dec_header = client.decrypt(source=ct, keyring=keyring(kms, arn))
    assert pt == data
    assert dec_header.encryption_context["tenant"] == "t1"

    # The data key really is wrapped by the proxy: disabling the key stops decryption.
    kms.disable_key(KeyId=arn)
    with pytest.raises(Exception):
        client.decrypt(source=ct, keyring=keyring(kms, arn))
    kms.enable_key(KeyId=arn)
    pt, _ = client.decrypt(source=ct, keyring=keyring(kms, arn))
    assert pt == data
