"""Messages written by the official AWS Encryption SDK decrypt with our CLI to
the exact plaintext.

Dimensions: every suite the official SDK has (11), frame lengths 128, 4096,
65536 and 1 MiB plus non-framed, plaintext sizes 0, 1, frame-1, frame, frame+1
and several MiB, encryption contexts (empty, ASCII, non-ASCII), and one or two
wrapping keys. The cases are the full product suite x frame x size (every size
with every frame length, every suite with every frame length and size); the
context and the wrapping keys rotate so that each suite meets each of them.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from esdk import ALL_SUITES, COMMITTING, AesKey, RsaKey, official_encrypt, required_context_cmm
from esdk import client, policy_for, algorithm

MIB = 1024 * 1024
FRAMES = [128, 4096, 65536, MIB, 0]  # 0: non-framed
SIZES = ["0", "1", "f-1", "f", "f+1", "big"]
CONTEXTS = [
    {},
    {"purpose": "interop", "tenant": "acme", "path": "/a/b=c"},
    {"naïve": "café ✓", "日本": "東京", "emoji": "🔐🗝️"},
]


def size_of(size: str, frame: int) -> int:
    f = frame or 4096  # non-framed: the "frame" sizes are just small sizes around 4096
    return {
        "0": 0,
        "1": 1,
        "f-1": f - 1,
        "f": f,
        "f+1": f + 1,
        "big": 3 * MIB + 5,
    }[size]


def plaintext_of(n: int, seed: str) -> bytes:
    # Random, but cheap to make in MiBs: a keystream from SHA-256 in counter mode.
    if n <= 65536:
        return os.urandom(n)
    base = os.urandom(32) + seed.encode()
    blocks = (hashlib.sha256(base + i.to_bytes(8, "big")).digest() for i in range(n // 32 + 1))
    return b"".join(blocks)[:n]


CASES = []
for si, suite in enumerate(ALL_SUITES):
    for fi, frame in enumerate(FRAMES):
        for zi, size in enumerate(SIZES):
            CASES.append(
                pytest.param(
                    suite,
                    frame,
                    size,
                    (si + fi + zi) % len(CONTEXTS),
                    (si + zi) % 3,  # 0: one key; 1: two keys, ours uses the first; 2: ... the second
                    (si + fi) % 2,  # the second key: 0: 128-bit AES, 1: RSA
                    id=f"0x{suite:04x}-frame{frame}-{size}",
                )
            )


@pytest.mark.parametrize("suite,frame,size,ctx,keys_mode,second_rsa", CASES)
def test_official_message_decrypts_exactly(
    cli, tmp_path, rsa_private_keys, suite, frame, size, ctx, keys_mode, second_rsa
):
    context = CONTEXTS[ctx]
    first = AesKey.make(tmp_path, "first", 32)
    keys = [first]
    if keys_mode:
        if second_rsa:
            keys.append(RsaKey.make(tmp_path, "second", "oaep-sha1", rsa_private_keys[0]))
        else:
            keys.append(AesKey.make(tmp_path, "second", 16))
    plaintext = plaintext_of(size_of(size, frame), f"{suite}{frame}{size}")
    message = official_encrypt(plaintext, keys, suite, frame, context)

    src, dst = tmp_path / "msg", tmp_path / "out"
    src.write_bytes(message)
    ours = [keys[0]] if keys_mode < 2 else [keys[1]]
    extra = [] if suite in COMMITTING else ["--commitment-policy", "require-encrypt-allow-decrypt"]
    r = cli.decrypt(src, dst, ours, context, extra=extra)
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == plaintext


@pytest.mark.parametrize("suite", ALL_SUITES, ids=hex)
def test_non_committing_refused_by_default_policy(cli, tmp_path, suite):
    key = AesKey.make(tmp_path, "k", 32)
    plaintext = os.urandom(100)
    message = official_encrypt(plaintext, [key], suite, 4096, {"a": "b"})
    src, dst = tmp_path / "msg", tmp_path / "out"
    src.write_bytes(message)
    r = cli.decrypt(src, dst, [key], {"a": "b"})
    if suite in COMMITTING:
        assert r.returncode == 0, r.stderr
        assert dst.read_bytes() == plaintext
    else:
        assert r.returncode == 1
        assert "error[COMMITMENT_POLICY_VIOLATION]" in r.stderr
        assert not dst.exists()


@pytest.mark.parametrize("suite", [0x0478, 0x0578, 0x0178, 0x0378], ids=hex)
def test_official_required_context_cmm_message(cli, tmp_path, suite):
    """A message whose context pairs the official RequiredEncryptionContext CMM
    kept out of the header decrypts when our CLI is given them with -c."""
    key = AesKey.make(tmp_path, "k", 32)
    context = {"stored": "yes", "secret": "s3cr3t ✓"}
    plaintext = os.urandom(5000)
    cmm = required_context_cmm([key], ["secret"])
    message, header = client(policy_for(suite)).encrypt(
        source=plaintext,
        materials_manager=cmm,
        algorithm=algorithm(suite),
        frame_length=1024,
        encryption_context=context,
    )
    assert "secret" not in header.encryption_context
    src, dst = tmp_path / "msg", tmp_path / "out"
    src.write_bytes(message)
    extra = [] if suite in COMMITTING else ["--commitment-policy", "require-encrypt-allow-decrypt"]
    r = cli.decrypt(src, dst, [key], context, extra=extra)
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == plaintext
    # Without the pair that only the caller knows, it must fail, and leave nothing.
    dst2 = tmp_path / "out2"
    r = cli.decrypt(src, dst2, [key], {"stored": "yes"}, extra=extra)
    assert r.returncode == 1
    assert "error[" in r.stderr
    assert not dst2.exists()
