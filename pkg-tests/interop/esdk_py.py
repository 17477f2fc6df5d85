"""Interop with the official AWS Encryption SDK for Python (raw AES master key).

  esdk_py.py write DIR   write Python-SDK messages + plaintexts + manifest.json into DIR
  esdk_py.py read DIR... decrypt every *.ct written by kms-envelope (with *.pt and *.json
                         beside it) and print one JSON line per case: {"name", "ok", "error"}

The key is 32 bytes 0x01..0x20, namespace "interop-ns", name "interop-key", as in suite.mjs.
"""
import json
import os
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

KEY = bytes(range(1, 33))


def master_key():
    return RawMasterKey(
        provider_id="interop-ns",
        key_id=b"interop-key",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=KEY,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


def plaintext(n, salt):
    return bytes((i * 31 + salt) & 0xFF for i in range(n))


def write(d):
    os.makedirs(d, exist_ok=True)
    cases = []
    committing = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    legacy = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )
    for alg in Algorithm:
        client = committing if alg.is_committing() else legacy
        for size, frame in [(0, 4096), (1, 4096), (10000, 4096), (8192, 4096), (70000, 65536)]:
            name = "py-%04x-%d-%d" % (alg.algorithm_id, size, frame)
            pt = plaintext(size, alg.algorithm_id & 0xFF)
            ec = {"purpose": "interop", "size": str(size)}
            ct, _ = client.encrypt(
                source=pt,
                key_provider=master_key(),
                encryption_context=ec,
                algorithm=alg,
                frame_length=frame,
            )
            open(os.path.join(d, name + ".ct"), "wb").write(ct)
            open(os.path.join(d, name + ".pt"), "wb").write(pt)
            cases.append({"name": name, "suite": alg.algorithm_id, "encryptionContext": ec})
    json.dump({"cases": cases}, open(os.path.join(d, "manifest.json"), "w"), indent=1)
    print("wrote %d Python-SDK messages to %s" % (len(cases), d))


def read(dirs):
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    n = 0
    for d in dirs:
        for f in sorted(os.listdir(d)):
            if not f.endswith(".ct"):
                continue
            base = os.path.join(d, f[:-3])
            meta = json.load(open(base + ".json"))
            name = "python decrypts %s/%s" % (os.path.basename(d), f[:-3])
            try:
                pt, header = client.decrypt(source=open(base + ".ct", "rb").read(), key_provider=master_key())
                want = open(base + ".pt", "rb").read()
                ok = pt == want
                for k, v in meta.get("encryptionContext", {}).items():
                    ok = ok and header.encryption_context.get(k) == v
                ok = ok and header.algorithm.algorithm_id == meta["suite"]
                print(json.dumps({"name": name, "ok": ok, "error": None if ok else "plaintext/context/suite mismatch"}))
            except Exception as e:  # noqa: BLE001 - report any SDK failure as a failed case
                print(json.dumps({"name": name, "ok": False, "error": repr(e)}))
            n += 1
    if n == 0:
        print(json.dumps({"name": "python read: no messages found", "ok": False, "error": "empty"}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        read(sys.argv[2:])
