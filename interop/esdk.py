"""The two sides of the cross-check: our CLI (`kms-envelope`) and the official
AWS Encryption SDK for Python with its Material Providers Library (MPL).

Keys are made at test time. An AES key is (namespace, name, bytes); an RSA key
is (namespace, name, private PEM, public PEM, padding). The same key is handed
to the official SDK as an MPL keyring and to our CLI as a --raw-aes-key /
--raw-rsa-key option backed by a file.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aws_encryption_sdk
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import (
    AesWrappingAlg,
    CreateDefaultCryptographicMaterialsManagerInput,
    CreateMultiKeyringInput,
    CreateRawAesKeyringInput,
    CreateRawRsaKeyringInput,
    CreateRequiredEncryptionContextCMMInput,
    PaddingScheme,
)
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MPL = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())

# Our CLI's padding names, and the MPL's.
RSA_PADDINGS = {
    "pkcs1": PaddingScheme.PKCS1,
    "oaep-sha1": PaddingScheme.OAEP_SHA1_MGF1,
    "oaep-sha256": PaddingScheme.OAEP_SHA256_MGF1,
    "oaep-sha384": PaddingScheme.OAEP_SHA384_MGF1,
    "oaep-sha512": PaddingScheme.OAEP_SHA512_MGF1,
}

AES_WRAPPING = {
    16: AesWrappingAlg.ALG_AES128_GCM_IV12_TAG16,
    24: AesWrappingAlg.ALG_AES192_GCM_IV12_TAG16,
    32: AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
}

COMMITTING = {0x0478, 0x0578}
SIGNED = {0x0214, 0x0346, 0x0378, 0x0578}
ALL_SUITES = sorted(a.algorithm_id for a in Algorithm)


def algorithm(suite_id: int) -> Algorithm:
    """The official SDK's Algorithm with this id."""
    return next(a for a in Algorithm if a.algorithm_id == suite_id)


@dataclass
class AesKey:
    """A raw AES wrapping key, with its key file for our CLI."""

    namespace: str
    name: str
    key: bytes
    path: Path

    @classmethod
    def make(cls, directory: Path, name: str, size: int = 32, namespace: str = "interop") -> "AesKey":
        key = os.urandom(size)
        path = directory / f"{name}.aes"
        path.write_bytes(key)
        return cls(namespace, name, key, path)

    def keyring(self):
        return MPL.create_raw_aes_keyring(
            input=CreateRawAesKeyringInput(
                key_namespace=self.namespace,
                key_name=self.name,
                wrapping_key=self.key,
                wrapping_alg=AES_WRAPPING[len(self.key)],
            )
        )

    def cli_args(self) -> list[str]:
        return ["--raw-aes-key", f"{self.namespace}:{self.name}:{self.path}"]


@dataclass
class RsaKey:
    """A raw RSA wrapping key pair with a padding, with its PEM file for our CLI."""

    namespace: str
    name: str
    private_pem: bytes
    public_pem: bytes
    padding: str
    path: Path

    @classmethod
    def make(
        cls,
        directory: Path,
        name: str,
        padding: str,
        private_key: rsa.RSAPrivateKey | None = None,
        namespace: str = "interop",
    ) -> "RsaKey":
        sk = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = sk.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = sk.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        path = directory / f"{name}.pem"
        path.write_bytes(private_pem)
        return cls(namespace, name, private_pem, public_pem, padding, path)

    def keyring(self):
        return MPL.create_raw_rsa_keyring(
            input=CreateRawRsaKeyringInput(
                key_namespace=self.namespace,
                key_name=self.name,
                padding_scheme=RSA_PADDINGS[self.padding],
                public_key=self.public_pem,
                private_key=self.private_pem,
            )
        )

    def cli_args(self) -> list[str]:
        return ["--raw-rsa-key", f"{self.namespace}:{self.name}:{self.path}:{self.padding}"]


def keyring(keys):
    """One key's keyring, or a multi-keyring whose generator is the first key."""
    if len(keys) == 1:
        return keys[0].keyring()
    return MPL.create_multi_keyring(
        input=CreateMultiKeyringInput(
            generator=keys[0].keyring(), child_keyrings=[k.keyring() for k in keys[1:]]
        )
    )


def required_context_cmm(keys, required: list[str]):
    """The official RequiredEncryptionContext CMM over the default CMM of `keys`."""
    default = MPL.create_default_cryptographic_materials_manager(
        input=CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring(keys))
    )
    return MPL.create_required_encryption_context_cmm(
        input=CreateRequiredEncryptionContextCMMInput(
            required_encryption_context_keys=required, underlying_cmm=default
        )
    )


def client(policy: CommitmentPolicy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT):
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)


def policy_for(suite_id: int) -> CommitmentPolicy:
    """The official policy that may encrypt with this suite."""
    if suite_id in COMMITTING:
        return CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    return CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT


def official_encrypt(plaintext: bytes, keys, suite_id: int, frame_length: int, context: dict) -> bytes:
    ct, header = client(policy_for(suite_id)).encrypt(
        source=plaintext,
        keyring=keyring(keys),
        algorithm=algorithm(suite_id),
        frame_length=frame_length,
        encryption_context=context,
    )
    assert header.algorithm.algorithm_id == suite_id
    return ct


def official_decrypt(ciphertext: bytes, keys, context: dict | None = None, materials_manager=None):
    """Decrypt with the official SDK (it reads every suite); returns (plaintext, header)."""
    kwargs = {"source": ciphertext}
    if materials_manager is not None:
        kwargs["materials_manager"] = materials_manager
    else:
        kwargs["keyring"] = keyring(keys)
    if context is not None:
        kwargs["encryption_context"] = context
    return client(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT).decrypt(**kwargs)


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: str


class Cli:
    """Runs our kms-envelope binary."""

    def __init__(self, binary: Path):
        self.binary = binary

    def run(self, *args: str, stdin: bytes | None = None, timeout: float = 120) -> Run:
        p = subprocess.run(
            [str(self.binary), *args],
            input=stdin,
            capture_output=True,
            timeout=timeout,
        )
        return Run(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))

    @staticmethod
    def context_args(context: dict) -> list[str]:
        out = []
        for k, v in context.items():
            out += ["-c", f"{k}={v}"]
        return out

    def encrypt(self, src: Path, dst: Path, keys, context: dict | None = None, extra=()) -> Run:
        args = ["encrypt", "-i", str(src), "-o", str(dst)]
        for k in keys:
            args += k.cli_args()
        args += self.context_args(context or {})
        return self.run(*args, *extra)

    def decrypt(self, src: Path, dst: Path, keys, context: dict | None = None, extra=()) -> Run:
        args = ["decrypt", "-i", str(src), "-o", str(dst)]
        for k in keys:
            args += k.cli_args()
        args += self.context_args(context or {})
        return self.run(*args, *extra)
