"""Rotation: versions, old ciphertexts, rotation status and listing."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from helpers import call


def blob_version(ct: bytes) -> int:
    # The blob names key id (bytes 3..19) and version (19..23); see blob.rs.
    return int.from_bytes(ct[19:23], "big")


def test_rotate_on_demand_then_old_ciphertexts_decrypt(kms, key):
    kid = key["KeyId"]
    ctx = {"k": "v"}
    cts = [kms.encrypt(KeyId=kid, Plaintext=b"v1", EncryptionContext=ctx)["CiphertextBlob"]]
    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256", EncryptionContext=ctx)
    for i in range(2):
        assert kms.rotate_key_on_demand(KeyId=kid)["KeyId"] == key["Arn"]
        cts.append(kms.encrypt(KeyId=kid, Plaintext=f"v{i + 2}".encode(), EncryptionContext=ctx)["CiphertextBlob"])
    assert [blob_version(c) for c in cts] == [1, 2, 3]
    for i, ct in enumerate(cts):
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == f"v{i + 1}".encode()
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
    new_dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert blob_version(new_dk["CiphertextBlob"]) == 3
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "ON_DEMAND"]
    assert all(r["KeyId"] == key["Arn"] for r in rotations)
    page = kms.list_key_rotations(KeyId=kid, Limit=1)
    assert len(page["Rotations"]) == 1 and page["Truncated"]
    rest = kms.list_key_rotations(KeyId=kid, Limit=1, Marker=page["NextMarker"])
    assert len(rest["Rotations"]) == 1 and not rest["Truncated"]


def test_automatic_rotation_settings(proxy, kms, key):
    kid = key["KeyId"]
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    for bad in (89, 2561):
        st, body = call(proxy, "EnableKeyRotation", {"KeyId": kid, "RotationPeriodInDays": bad})
        assert (st, body["__type"]) == (400, "ValidationException")
    kms.enable_key_rotation(KeyId=kid)
    s = kms.get_key_rotation_status(KeyId=kid)
    assert s["KeyRotationEnabled"] is True and s["RotationPeriodInDays"] == 365
    assert 364 * 86400 < s["NextRotationDate"].timestamp() - time.time() < 366 * 86400
    kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=kid)["RotationPeriodInDays"] == 90
    kms.disable_key_rotation(KeyId=kid)
    s = kms.get_key_rotation_status(KeyId=kid)
    assert s["KeyRotationEnabled"] is False and "NextRotationDate" not in s


def test_rotation_of_a_disabled_key_is_refused(kms, key):
    kms.disable_key(KeyId=key["KeyId"])
    for fn in (lambda: kms.rotate_key_on_demand(KeyId=key["KeyId"]), lambda: kms.enable_key_rotation(KeyId=key["KeyId"])):
        with pytest.raises(ClientError) as e:
            fn()
        assert error_code(e) == "DisabledException"
    assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == []
