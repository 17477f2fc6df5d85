"""A restart keeps keys, aliases, rotations and versions; a wrong root key is refused."""

import subprocess

from helpers import proxy_bin


def test_restart_keeps_everything(fresh_proxy):
    p = fresh_proxy
    kms = p.client()
    a = kms.create_key(Description="a", Tags=[{"TagKey": "t", "TagValue": "1"}])["KeyMetadata"]
    b = kms.create_key(Description="b")["KeyMetadata"]
    kms.create_alias(AliasName="alias/keep", TargetKeyId=a["KeyId"])
    old = kms.encrypt(KeyId="alias/keep", Plaintext=b"v1", EncryptionContext={"x": "y"})["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=a["KeyId"])
    kms.enable_key_rotation(KeyId=a["KeyId"], RotationPeriodInDays=180)
    new = kms.encrypt(KeyId="alias/keep", Plaintext=b"v2", EncryptionContext={"x": "y"})["CiphertextBlob"]
    kms.disable_key(KeyId=b["KeyId"])
    kms.update_alias(AliasName="alias/keep", TargetKeyId=a["Arn"])
    before = p.snapshot()

    p.restart()
    kms = p.client()
    assert p.snapshot() == before
    assert kms.describe_key(KeyId="alias/keep")["KeyMetadata"]["KeyId"] == a["KeyId"]
    assert kms.describe_key(KeyId=b["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"x": "y"})["Plaintext"] == b"v1"
    assert kms.decrypt(CiphertextBlob=new, EncryptionContext={"x": "y"})["Plaintext"] == b"v2"
    s = kms.get_key_rotation_status(KeyId=a["KeyId"])
    assert s["KeyRotationEnabled"] and s["RotationPeriodInDays"] == 180
    assert len(kms.list_key_rotations(KeyId=a["KeyId"])["Rotations"]) == 1
    assert kms.list_resource_tags(KeyId=a["KeyId"])["Tags"] == [{"TagKey": "t", "TagValue": "1"}]
    assert {k["KeyId"] for k in kms.list_keys()["Keys"]} == {a["KeyId"], b["KeyId"]}


def test_refuses_to_start_without_the_right_root_key(fresh_proxy):
    p = fresh_proxy
    p.stop()
    root = p.dir / "root.key"
    good = root.read_text()
    root.write_text("00" * 32 + "\n")
    r = subprocess.run([proxy_bin(), "--config", str(p.config), "serve"], capture_output=True, text=True,
                       timeout=30, env=p.env())
    assert r.returncode != 0 and "not the root key" in r.stderr
    root.unlink()
    r = subprocess.run([proxy_bin(), "--config", str(p.config), "serve"], capture_output=True, text=True,
                       timeout=30, env=p.env())
    assert r.returncode != 0 and "root key" in r.stderr
    root.write_text(good)
    p.start()
    assert p.client().list_keys()["Keys"] == []


def test_key_material_is_not_stored_in_the_clear(fresh_proxy):
    p = fresh_proxy
    kms = p.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    rows = p.snapshot()["key_versions"]
    assert len(rows) == 1 and rows[0][0] == kid
    sealed = rows[0][4]
    assert len(sealed) == 12 + 32 + 16  # nonce, sealed 32-byte key, tag


def test_passphrase_root_key(tmp_path):
    """Argon2id from a passphrase: the store opens with it, and only with it."""
    from helpers import Proxy

    env = {"KMS_PROXY_PASSPHRASE": "correct horse battery staple"}
    p = Proxy(tmp_path, root_key=('source = "passphrase"',), extra_env=env).start()
    try:
        kms = p.client()
        kid = kms.create_key()["KeyMetadata"]["KeyId"]
        ct = kms.encrypt(KeyId=kid, Plaintext=b"pp")["CiphertextBlob"]
        p.restart()
        assert p.client().decrypt(CiphertextBlob=ct)["Plaintext"] == b"pp"
        p.stop()
        assert not (tmp_path / "root.key").exists()
        p.extra_env["KMS_PROXY_PASSPHRASE"] = "wrong horse battery staple"
        r = subprocess.run([proxy_bin(), "--config", str(p.config), "serve"], capture_output=True, text=True,
                           timeout=60, env=p.env())
        assert r.returncode != 0 and "not the root key" in r.stderr
    finally:
        p.stop()


def test_health_endpoint(proxy):
    import json
    import urllib.request

    with urllib.request.urlopen(proxy.url + "/health", timeout=5) as r:
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
