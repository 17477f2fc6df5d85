"""Messages written by our CLI decrypt with the official AWS Encryption SDK."""

from __future__ import annotations

import os

import pytest
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError

from esdk import (
    ALL_SUITES,
    COMMITTING,
    RSA_PADDINGS,
    AesKey,
    RsaKey,
    official_decrypt,
    required_context_cmm,
)

SUITES = [0x0478, 0x0578]
CONTEXT = {"purpose": "interop", "tenant": "ünïcødé ✓"}


def encrypt_ours(cli, tmp_path, keys, plaintext, suite, context=CONTEXT, extra=()):
    src, dst = tmp_path / "plain", tmp_path / "msg"
    src.write_bytes(plaintext)
    r = cli.encrypt(src, dst, keys, context, extra=["--suite", f"0x{suite:04x}", *extra])
    assert r.returncode == 0, r.stderr
    return dst.read_bytes()


def check_official(message, keys, plaintext, suite, context=CONTEXT):
    pt, header = official_decrypt(message, keys)
    assert pt == plaintext
    assert header.algorithm.algorithm_id == suite
    for k, v in context.items():
        assert header.encryption_context[k] == v
    return header


@pytest.mark.parametrize("suite", SUITES, ids=hex)
@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_raw_aes_wrapping_key_sizes(cli, tmp_path, suite, key_size):
    key = AesKey.make(tmp_path, f"aes{key_size * 8}", key_size)
    plaintext = os.urandom(10_000)
    message = encrypt_ours(cli, tmp_path, [key], plaintext, suite)
    header = check_official(message, [key], plaintext, suite)
    assert len(header.encrypted_data_keys) == 1


@pytest.mark.parametrize("suite", SUITES, ids=hex)
@pytest.mark.parametrize("padding", sorted(RSA_PADDINGS))
def test_raw_rsa_paddings(cli, tmp_path, rsa_private_keys, suite, padding):
    key = RsaKey.make(tmp_path, "rsa", padding, rsa_private_keys[0])
    plaintext = os.urandom(5_000)
    message = encrypt_ours(cli, tmp_path, [key], plaintext, suite)
    check_official(message, [key], plaintext, suite)


@pytest.mark.parametrize("suite", SUITES, ids=hex)
@pytest.mark.parametrize("second", ["aes", "rsa"])
def test_two_wrapping_keys_each_decrypts(cli, tmp_path, rsa_private_keys, suite, second):
    first = AesKey.make(tmp_path, "first", 32)
    if second == "aes":
        other = AesKey.make(tmp_path, "second", 16)
    else:
        other = RsaKey.make(tmp_path, "second", "oaep-sha256", rsa_private_keys[1])
    plaintext = os.urandom(70_000)
    message = encrypt_ours(cli, tmp_path, [first, other], plaintext, suite)
    header = check_official(message, [first], plaintext, suite)
    assert len(header.encrypted_data_keys) == 2
    check_official(message, [other], plaintext, suite)


@pytest.mark.parametrize("suite", SUITES, ids=hex)
@pytest.mark.parametrize("frame", [1, 100, 128, 4096, 65536])
@pytest.mark.parametrize("size", ["0", "f-1", "f", "f+1", "3f+7"])
def test_frame_lengths_and_sizes(cli, tmp_path, suite, frame, size):
    n = {"0": 0, "f-1": frame - 1, "f": frame, "f+1": frame + 1, "3f+7": 3 * frame + 7}[size]
    key = AesKey.make(tmp_path, "aes", 32)
    plaintext = os.urandom(n)
    message = encrypt_ours(
        cli, tmp_path, [key], plaintext, suite, extra=["--frame-length", str(frame)]
    )
    header = check_official(message, [key], plaintext, suite)
    assert header.frame_length == frame


@pytest.mark.parametrize("suite", SUITES, ids=hex)
def test_required_context_keys_with_official_cmm(cli, tmp_path, suite):
    key = AesKey.make(tmp_path, "aes", 32)
    context = {"stored": "kept in the header", "secret": "authenticated only", "also": "ä"}
    plaintext = os.urandom(9_000)
    message = encrypt_ours(
        cli,
        tmp_path,
        [key],
        plaintext,
        suite,
        context,
        extra=["--required-context-key", "secret", "--required-context-key", "also"],
    )
    cmm = required_context_cmm([key], ["secret", "also"])
    reproduced = {"secret": "authenticated only", "also": "ä"}
    pt, header = official_decrypt(message, [key], reproduced, materials_manager=cmm)
    assert pt == plaintext
    assert header.encryption_context["stored"] == "kept in the header"
    assert "secret" not in header.encryption_context
    assert "also" not in header.encryption_context
    # Without the reproduced pairs, or with a wrong value, the official SDK refuses.
    with pytest.raises(AWSEncryptionSDKClientError):
        official_decrypt(message, [key], materials_manager=required_context_cmm([key], ["secret", "also"]))
    with pytest.raises(AWSEncryptionSDKClientError):
        official_decrypt(
            message,
            [key],
            {"secret": "other", "also": "ä"},
            materials_manager=required_context_cmm([key], ["secret", "also"]),
        )


@pytest.mark.parametrize("suite", SUITES, ids=hex)
@pytest.mark.parametrize("frame", [4096, 1024 * 1024])
def test_several_mib(cli, tmp_path, suite, frame):
    key = AesKey.make(tmp_path, "aes", 32)
    plaintext = os.urandom(3 * 1024 * 1024 + 5)
    message = encrypt_ours(
        cli, tmp_path, [key], plaintext, suite, extra=["--frame-length", str(frame)]
    )
    header = check_official(message, [key], plaintext, suite)
    assert header.frame_length == frame


@pytest.mark.parametrize("suite", ALL_SUITES, ids=hex)
def test_every_suite_we_can_write(cli, tmp_path, suite):
    """Beyond the committing suites: the legacy ones, under the policy that
    forbids commitment on encrypt."""
    key = AesKey.make(tmp_path, "aes", 32)
    plaintext = os.urandom(3 * 128 + 7)
    policy = [] if suite in COMMITTING else ["--commitment-policy", "forbid-encrypt-allow-decrypt"]
    message = encrypt_ours(
        cli, tmp_path, [key], plaintext, suite, extra=["--frame-length", "128", *policy]
    )
    header = check_official(message, [key], plaintext, suite)
    assert header.version.value == (2 if suite in COMMITTING else 1)
