"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/Disable, deletion, tags."""

import base64
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from helpers import ACCOUNT, REGION, call

ARN_RE = re.compile(rf"^arn:aws:kms:{REGION}:{ACCOUNT}:key/[0-9a-f-]{{36}}$")


def test_create_and_describe_key(kms):
    md = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "pay"}])["KeyMetadata"]
    assert ARN_RE.match(md["Arn"]) and md["Arn"].endswith(md["KeyId"])
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT" and md["KeyManager"] == "CUSTOMER"
    assert md["AWSAccountId"] == ACCOUNT
    assert abs(md["CreationDate"].timestamp() - time.time()) < 60
    for ref in (md["KeyId"], md["Arn"]):
        d = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert d["KeyId"] == md["KeyId"] and d["Description"] == "orders"
    tags = kms.list_resource_tags(KeyId=md["KeyId"])["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "pay"}]


def test_create_key_refuses_unsupported_specs(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert error_code(e) == "UnsupportedOperationException"


def test_describe_unknown_key_is_not_found(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="11111111-2222-3333-4444-555555555555")
    assert error_code(e) == "NotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_keys_paginates_over_every_key(kms):
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        kw = {"Limit": 2}
        if marker:
            kw["Marker"] = marker
        page = kms.list_keys(**kw)
        pages += 1
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
        for k in page["Keys"]:
            assert ARN_RE.match(k["KeyArn"])
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert created <= set(seen)
    assert len(seen) == len(set(seen)) and pages >= 2
    # boto3's paginator agrees.
    all_ids = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}) for k in p["Keys"]]
    assert all_ids == seen


def test_disabled_key_cannot_decrypt_until_enabled(kms, key):
    kid = key["KeyId"]
    ct = kms.encrypt(KeyId=kid, Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    for fn in (
        lambda: kms.decrypt(CiphertextBlob=ct),
        lambda: kms.encrypt(KeyId=kid, Plaintext=b"x"),
        lambda: kms.generate_data_key(KeyId=kid, KeySpec="AES_256"),
    ):
        with pytest.raises(ClientError) as e:
            fn()
        assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"secret"


def test_schedule_and_cancel_deletion(proxy, kms, key):
    kid = key["KeyId"]
    ct = kms.encrypt(KeyId=kid, Plaintext=b"keep me")["CiphertextBlob"]
    for bad in (6, 31):
        st, body = call(proxy, "ScheduleKeyDeletion", {"KeyId": kid, "PendingWindowInDays": bad})
        assert (st, body["__type"]) == (400, "ValidationException")
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    r = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert r["KeyState"] == "PendingDeletion" and r["PendingWindowInDays"] == 7
    assert 6.9 * 86400 < r["DeletionDate"].timestamp() - time.time() < 7.1 * 86400
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["Enabled"] is False
    for fn in (
        lambda: kms.decrypt(CiphertextBlob=ct),
        lambda: kms.encrypt(KeyId=kid, Plaintext=b"x"),
        lambda: kms.enable_key(KeyId=kid),
        lambda: kms.schedule_key_deletion(KeyId=kid),
    ):
        with pytest.raises(ClientError) as e:
            fn()
        assert error_code(e) == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=kid)["KeyId"] == key["Arn"]
    # As in KMS, a cancelled deletion leaves the key disabled.
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        kms.cancel_key_deletion(KeyId=kid)
    assert error_code(e) == "KMSInvalidStateException"
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"keep me"


def test_tags_add_replace_remove(kms, key):
    kid = key["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "3"}])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]}
    assert tags == {"a": "3", "b": "2"}
    kms.untag_resource(KeyId=kid, TagKeys=["b"])
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "a", "TagValue": "3"}]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert error_code(e) == "TagException"
    page = kms.list_resource_tags(KeyId=kid, Limit=1)
    assert len(page["Tags"]) == 1


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key["Arn"], Description="renamed")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "renamed"


def test_generate_random(proxy, kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == 32 and a != b
    for bad in (0, 1025):
        st, body = call(proxy, "GenerateRandom", {"NumberOfBytes": bad})
        assert (st, body["__type"]) == (400, "ValidationException")
    assert base64.b64encode(a)
