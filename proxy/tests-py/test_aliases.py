"""Aliases, and alias/... wherever KMS accepts it."""

import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from helpers import ACCOUNT, REGION


def name():
    return f"alias/test-{uuid.uuid4().hex[:10]}"


def test_alias_lifecycle_and_moves(kms, key):
    other = kms.create_key()["KeyMetadata"]
    alias = name()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    assert error_code(e) == "AlreadyExistsException"
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    for ref in (alias, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key["KeyId"]
    ct_old = kms.encrypt(KeyId=alias, Plaintext=b"before")["CiphertextBlob"]
    assert kms.generate_data_key(KeyId=alias_arn, KeySpec="AES_256")["KeyId"] == key["Arn"]

    kms.update_alias(AliasName=alias, TargetKeyId=other["Arn"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == other["KeyId"]
    ct_new = kms.encrypt(KeyId=alias, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct_new, KeyId=alias)["KeyId"] == other["Arn"]
    # The old ciphertext names its key: it still decrypts, but not "via" the moved alias.
    assert kms.decrypt(CiphertextBlob=ct_old)["Plaintext"] == b"before"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct_old, KeyId=alias)
    assert error_code(e) == "IncorrectKeyException"

    listed = kms.list_aliases(KeyId=other["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]
    assert listed[0]["AliasArn"] == alias_arn and listed[0]["TargetKeyId"] == other["KeyId"]
    assert kms.list_aliases(KeyId=key["KeyId"])["Aliases"] == []

    kms.delete_alias(AliasName=alias)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=alias)
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        kms.delete_alias(AliasName=alias)
    assert error_code(e) == "NotFoundException"


def test_alias_names_are_checked(kms, key):
    for bad, code in (
        ("noprefix", "InvalidAliasNameException"),
        ("alias/aws/mine", "InvalidAliasNameException"),
        ("alias/managed/x", "InvalidAliasNameException"),
        ("alias/has space", "InvalidAliasNameException"),
    ):
        with pytest.raises(ClientError) as e:
            kms.create_alias(AliasName=bad, TargetKeyId=key["KeyId"])
        assert error_code(e) == code, bad
    with pytest.raises(ClientError) as e:
        kms.update_alias(AliasName=name(), TargetKeyId=key["KeyId"])
    assert error_code(e) == "NotFoundException"


def test_alias_cannot_target_an_alias_or_be_used_where_kms_refuses_it(kms, key):
    alias = name()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=name(), TargetKeyId=alias)
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        kms.disable_key(KeyId=alias)
    assert error_code(e) == "NotFoundException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_list_aliases_paginates(kms, key):
    names = sorted(name() for _ in range(3))
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=key["KeyId"])
    got = []
    for page in kms.get_paginator("list_aliases").paginate(KeyId=key["KeyId"], PaginationConfig={"PageSize": 2}):
        assert len(page["Aliases"]) <= 2
        got += [a["AliasName"] for a in page["Aliases"]]
    assert got == names
