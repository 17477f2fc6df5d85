"""Data keys and direct cryptography."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from helpers import call


def test_generate_data_key_round_trips_through_decrypt(kms, key):
    ctx = {"purpose": "test", "tenant": "t1"}
    for kw, n in (({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 64}, 64)):
        r = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=ctx, **kw)
        assert len(r["Plaintext"]) == n and r["KeyId"] == key["Arn"]
        d = kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)
        assert d["Plaintext"] == r["Plaintext"] and d["KeyId"] == key["Arn"]
        assert d["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_generate_data_key_without_plaintext(kms, key):
    r = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in r
    assert len(kms.decrypt(CiphertextBlob=r["CiphertextBlob"])["Plaintext"]) == 32


def test_generate_data_key_needs_exactly_one_size(proxy, kms, key):
    for kw in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(ClientError) as e:
            kms.generate_data_key(KeyId=key["KeyId"], **kw)
        assert error_code(e) == "ValidationException", kw
    # botocore checks these ranges itself, so send them raw.
    for n in (0, 1025):
        st, body = call(proxy, "GenerateDataKey", {"KeyId": key["KeyId"], "NumberOfBytes": n})
        assert (st, body["__type"]) == (400, "ValidationException")


def test_encrypt_limit_is_4096_bytes(kms, key):
    ok = bytes(range(256)) * 16
    assert len(ok) == 4096
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=ok)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == ok
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=ok + b"x")
    assert error_code(e) == "ValidationException"
    assert "envelope encryption" in e.value.response["Error"]["Message"]


def test_wrong_encryption_context_fails(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"a": "1"})["CiphertextBlob"]
    for ctx in ({"a": "2"}, {}, {"a": "1", "b": "2"}, {"A": "1"}):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)
        assert error_code(e) == "InvalidCiphertextException", ctx
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "1"})["Plaintext"] == b"p"


def test_tampered_ciphertext_fails(kms, key):
    ct = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"])
    ct[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(ct))
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=b"not a kms ciphertext blob at all....................")
    assert error_code(e) == "InvalidCiphertextException"


def test_decrypt_with_the_wrong_key_id(kms, key):
    other = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, KeyId=other["Arn"])
    assert error_code(e) == "IncorrectKeyException"
    assert kms.decrypt(CiphertextBlob=ct, KeyId=key["Arn"])["Plaintext"] == b"p"


def test_re_encrypt_between_keys(kms, key):
    dest = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"s": "1"})["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"s": "2"}, DestinationKeyId=dest["KeyId"])
    assert error_code(e) == "InvalidCiphertextException"
    r = kms.re_encrypt(
        CiphertextBlob=ct,
        SourceEncryptionContext={"s": "1"},
        DestinationKeyId=dest["Arn"],
        DestinationEncryptionContext={"d": "2"},
    )
    assert r["SourceKeyId"] == key["Arn"] and r["KeyId"] == dest["Arn"]
    new = r["CiphertextBlob"]
    d = kms.decrypt(CiphertextBlob=new, EncryptionContext={"d": "2"})
    assert d["Plaintext"] == b"move me" and d["KeyId"] == dest["Arn"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=new, EncryptionContext={"s": "1"})
    assert error_code(e) == "InvalidCiphertextException"
    # A disabled destination refuses, and the source is untouched.
    kms.disable_key(KeyId=dest["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"s": "1"}, DestinationKeyId=dest["KeyId"])
    assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=dest["KeyId"])


def test_ciphertexts_are_randomised(kms, key):
    a = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    assert a != b
