"""Fixtures: the CLI binary, and RSA key pairs made once per session (RSA key
generation is the slow part; AES keys are made per test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent))

from esdk import Cli  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cli() -> Cli:
    """Our CLI: $KMS_ENVELOPE_BIN if set (scripts/test.sh sets it to the binary
    that `cargo test --profile ci` just built), else a fresh release build."""
    given = os.environ.get("KMS_ENVELOPE_BIN")
    if given:
        binary = Path(given)
    else:
        subprocess.run(
            ["cargo", "build", "--profile", "ci", "-q", "-p", "kms-envelope-cli"], cwd=ROOT, check=True
        )
        binary = ROOT / "target" / "ci" / "kms-envelope"
    assert binary.is_file(), f"no CLI binary at {binary}"
    return Cli(binary.resolve())


@pytest.fixture(scope="session")
def rsa_private_keys():
    """Two 2048-bit RSA private keys, shared by the tests of a session."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
