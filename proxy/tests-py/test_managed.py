"""Service-managed keys (alias/managed/<service>): created by the proxy on
first use, visible to callers, not manageable by them, rotated yearly."""

import json
import sqlite3
import time

import pytest
from botocore.exceptions import ClientError

from helpers import Proxy

YEAR = 365 * 86400


@pytest.fixture(scope="module")
def mp(tmp_path_factory):
    p = Proxy(tmp_path_factory.mktemp("managed")).start()
    yield p
    p.stop()


def ensure(p, service):
    return json.loads(p.run("service-key", "ensure", service).stdout)


def test_created_once_listed_and_described(mp):
    kms = mp.client()
    first = ensure(mp, "params")
    assert ensure(mp, "params") == first
    assert first["AliasName"] == "alias/managed/params"
    assert first["Arn"].endswith(first["KeyId"])
    assert first["KeyId"] in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/managed/params"] == first["KeyId"]
    md = kms.describe_key(KeyId="alias/managed/params")["KeyMetadata"]
    assert md["KeyManager"] == "AWS" and md["KeyState"] == "Enabled" and md["Arn"] == first["Arn"]
    st = kms.get_key_rotation_status(KeyId=first["KeyId"])
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 365
    next_rotation = st["NextRotationDate"].timestamp()
    assert abs(next_rotation - (md["CreationDate"].timestamp() + YEAR)) < 5
    listed = mp.run("service-key", "list").stdout
    assert "alias/managed/params" in listed and first["KeyId"] in listed
    assert mp.run("service-key", "ensure", "Not/Valid", check=False).returncode != 0


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_callers_cannot_manage_it(mp):
    kms = mp.client()
    key = ensure(mp, "params")["KeyId"]
    mine = kms.create_key(Description="customer")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/customer-owned", TargetKeyId=mine)
    before = mp.snapshot()
    attempts = [
        ("disable_key", dict(KeyId=key)),
        ("enable_key", dict(KeyId=key)),
        ("schedule_key_deletion", dict(KeyId=key, PendingWindowInDays=7)),
        ("cancel_key_deletion", dict(KeyId=key)),
        ("put_key_policy", dict(KeyId=key, PolicyName="default",
                                Policy='{"Version":"2012-10-17","Statement":[]}')),
        ("update_key_description", dict(KeyId=key, Description="mine now")),
        ("tag_resource", dict(KeyId=key, Tags=[{"TagKey": "a", "TagValue": "b"}])),
        ("enable_key_rotation", dict(KeyId=key, RotationPeriodInDays=90)),
        ("disable_key_rotation", dict(KeyId=key)),
        ("rotate_key_on_demand", dict(KeyId=key)),
        ("delete_alias", dict(AliasName="alias/managed/params")),
        ("create_alias", dict(AliasName="alias/points-at-managed", TargetKeyId=key)),
        ("update_alias", dict(AliasName="alias/customer-owned", TargetKeyId=key)),
        # Used directly, not through the proxy feature it belongs to.
        ("generate_data_key", dict(KeyId="alias/managed/params", KeySpec="AES_256")),
        ("encrypt", dict(KeyId=key, Plaintext=b"hello")),
    ]
    for op, kw in attempts:
        with pytest.raises(ClientError) as e:
            getattr(kms, op)(**kw)
        assert code(e) == "AccessDeniedException", op
    with pytest.raises(ClientError) as e:
        kms.update_alias(AliasName="alias/managed/params", TargetKeyId=mine)
    assert code(e) == "InvalidAliasNameException"
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/managed/other", TargetKeyId=mine)
    assert code(e) == "InvalidAliasNameException"
    assert mp.snapshot() == before


def test_rotated_yearly_by_the_sweep(tmp_path):
    p = Proxy(tmp_path).start()
    try:
        key = ensure(p, "demo")["KeyId"]
        kms = p.client()
        assert kms.list_key_rotations(KeyId=key)["Rotations"] == []
        p.stop()
        # A year later (the clock is moved by editing the due date).
        con = sqlite3.connect(p.db)
        con.execute("UPDATE keys SET next_rotation = ? WHERE id = ?", (int(time.time()) - 60, key))
        con.commit()
        con.close()
        p.start()

        def versions():
            c = sqlite3.connect(f"file:{p.db}?mode=ro", uri=True)
            try:
                return c.execute("SELECT origin FROM key_versions WHERE key_id = ? ORDER BY version",
                                 (key,)).fetchall()
            finally:
                c.close()

        # The start-up sweep rotates it, before anyone uses the key.
        deadline = time.time() + 10
        while len(versions()) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert versions() == [("INITIAL",), ("AUTOMATIC",)]
        kms = p.client()
        rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
        assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
        st = kms.get_key_rotation_status(KeyId=key)
        assert abs(st["NextRotationDate"].timestamp() - (time.time() + YEAR)) < 60
    finally:
        p.stop()
