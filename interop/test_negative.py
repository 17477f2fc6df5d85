"""Official messages that our CLI must refuse: exit status 1, `error[CODE]` on
stderr, and no output file (nor a stray temporary file) left behind."""

from __future__ import annotations

import os
import re

import pytest

from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError

from esdk import COMMITTING, SIGNED, AesKey, official_decrypt, official_encrypt

ERROR = re.compile(r"^kms-envelope: error\[([A-Z_]+)\]: ", re.M)
CONTEXT = {"purpose": "negative", "who": "ünïcødé"}


def policy_args(suite):
    return [] if suite in COMMITTING else ["--commitment-policy", "require-encrypt-allow-decrypt"]


def refused(cli, tmp_path, message: bytes, keys, context, extra=()) -> str:
    """Decrypt `message` with our CLI, expect a refusal, and return its code."""
    src = tmp_path / "msg"
    src.write_bytes(message)
    outdir = tmp_path / "out"
    outdir.mkdir(exist_ok=True)
    dst = outdir / "plain"
    r = cli.decrypt(src, dst, keys, context, extra=extra)
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr}"
    m = ERROR.search(r.stderr)
    assert m, r.stderr
    assert not dst.exists()
    assert list(outdir.iterdir()) == [], "a temporary file was left behind"
    assert r.stdout == b""
    return m.group(1)


@pytest.fixture
def key(tmp_path):
    return AesKey.make(tmp_path, "right", 32)


@pytest.mark.parametrize("suite", [0x0478, 0x0578, 0x0178, 0x0214], ids=hex)
def test_wrong_key(cli, tmp_path, key, suite):
    message = official_encrypt(os.urandom(3000), [key], suite, 1024, CONTEXT)
    # Same namespace and name, other bytes: the data key is ours by name but
    # does not unwrap (our keyring says so as a KEYRING_ERROR).
    impostor = AesKey.make(tmp_path, "impostor", 32)
    impostor.name = "right"
    assert refused(cli, tmp_path, message, [impostor], CONTEXT, policy_args(suite)) == "KEYRING_ERROR"
    # Another name: no data key is for us at all.
    other = AesKey.make(tmp_path, "other", 32)
    assert refused(cli, tmp_path, message, [other], CONTEXT, policy_args(suite)) == "NO_DECRYPTABLE_KEY"


@pytest.mark.parametrize("suite", [0x0478, 0x0578, 0x0078, 0x0346], ids=hex)
def test_wrong_context_value(cli, tmp_path, key, suite):
    message = official_encrypt(os.urandom(3000), [key], suite, 1024, CONTEXT)
    wrong = dict(CONTEXT, purpose="something else")
    code = refused(cli, tmp_path, message, [key], wrong, policy_args(suite))
    assert code == "ENCRYPTION_CONTEXT_MISMATCH"
    # A key the message does not store is taken as a required-context pair (the
    # spec's reproduced encryption context) and authenticated with the rest: the
    # raw AES key then cannot unwrap, and the official SDK refuses it too.
    extra_pair = dict(CONTEXT, absent="x")
    code = refused(cli, tmp_path, message, [key], extra_pair, policy_args(suite))
    assert code == "KEYRING_ERROR"
    with pytest.raises(AWSEncryptionSDKClientError):
        official_decrypt(message, [key], extra_pair)
    pt, _ = official_decrypt(message, [key], CONTEXT)
    assert len(pt) == 3000


@pytest.mark.parametrize("suite", sorted(SIGNED), ids=hex)
def test_unsigned_only_refuses_signed(cli, tmp_path, key, suite):
    message = official_encrypt(os.urandom(3000), [key], suite, 1024, CONTEXT)
    extra = [*policy_args(suite), "--unsigned-only"]
    assert refused(cli, tmp_path, message, [key], CONTEXT, extra) == "SIGNED_MESSAGE_REFUSED"


@pytest.mark.parametrize("suite", [0x0478, 0x0178], ids=hex)
def test_unsigned_only_accepts_unsigned(cli, tmp_path, key, suite):
    plaintext = os.urandom(3000)
    message = official_encrypt(plaintext, [key], suite, 1024, CONTEXT)
    src, dst = tmp_path / "msg", tmp_path / "plain"
    src.write_bytes(message)
    r = cli.decrypt(src, dst, [key], CONTEXT, extra=[*policy_args(suite), "--unsigned-only"])
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == plaintext


# Small messages, so that every single byte can be flipped (one bit of each,
# the bit moving along with the offset): framed with a short last frame,
# non-framed, v1 and v2, signed and unsigned. (The official SDK encrypts only
# with frame lengths that are multiples of 128.)
FLIP_CASES = [
    (0x0578, 128, 300),
    (0x0478, 0, 40),
    (0x0214, 128, 130),
    (0x0014, 0, 20),
]


@pytest.mark.parametrize("suite,frame,size", FLIP_CASES, ids=[f"0x{s:04x}-frame{f}-{n}" for s, f, n in FLIP_CASES])
def test_every_flipped_byte_is_refused(cli, tmp_path, key, suite, frame, size):
    plaintext = os.urandom(size)
    message = official_encrypt(plaintext, [key], suite, frame, CONTEXT)
    codes = {}
    for i in range(len(message)):
        bad = bytearray(message)
        bad[i] ^= 1 << (i % 8)
        code = refused(cli, tmp_path, bytes(bad), [key], CONTEXT, policy_args(suite))
        codes.setdefault(code, []).append(i)
    # The damage is named for what it hit, never as a usage or internal error.
    assert set(codes) <= {
        "MALFORMED_MESSAGE",
        "TRUNCATED_MESSAGE",
        "TRAILING_DATA",
        "UNSUPPORTED_VERSION",
        "UNSUPPORTED_SUITE",
        "HEADER_AUTH_FAILED",
        "COMMITMENT_MISMATCH",
        "BODY_AUTH_FAILED",
        "SIGNATURE_INVALID",
        "COMMITMENT_POLICY_VIOLATION",
        "ENCRYPTION_CONTEXT_MISMATCH",
        "NO_DECRYPTABLE_KEY",
        "KEYRING_ERROR",
        "LIMIT_EXCEEDED",
    }, codes
    # A flip in the middle of the body is a body authentication failure.
    assert "BODY_AUTH_FAILED" in codes
    if suite in SIGNED:
        assert len(message) - 1 in codes.get("SIGNATURE_INVALID", []) + codes.get("MALFORMED_MESSAGE", [])


def test_truncated_and_extended_messages(cli, tmp_path, key):
    message = official_encrypt(os.urandom(500), [key], 0x0578, 128, CONTEXT)
    for cut in (1, 10, len(message) // 2, len(message) - 1):
        code = refused(cli, tmp_path, message[:cut], [key], CONTEXT)
        assert code in {"TRUNCATED_MESSAGE", "MALFORMED_MESSAGE"}, (cut, code)
    assert refused(cli, tmp_path, message + b"\0", [key], CONTEXT) == "TRAILING_DATA"
