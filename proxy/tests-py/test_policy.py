"""Key policies AND identity policies, grants, and the lockout check, end to
end with boto3, bearer JWTs and the aws CLI."""

import base64
import json
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from helpers import ACCOUNT, Proxy, REGION, bearer_call, good_claims, jwt, post, sigv4_headers


def arn(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


ADMIN = arn("admin")

OWN_DATA_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "OwnDataOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:owner": "${jwt:sub}"},
                "Null": {"jwt:sub": "false"},
            },
        },
    ],
}


@pytest.fixture()
def strict(tmp_path):
    """A proxy where JWT users have no identity policy: only key policies and grants let them in."""
    p = Proxy(tmp_path, open_jwt_users=False).start()
    yield p
    p.stop()


def token(sub):
    return jwt(good_claims(sub=sub))


def gdk(proxy, sub, key, owner):
    return bearer_call(proxy, "GenerateDataKey", {"KeyId": key, "NumberOfBytes": 32, "EncryptionContext": {"owner": owner}}, token(sub))


def decrypt(proxy, sub, blob_b64, owner):
    return bearer_call(proxy, "Decrypt", {"CiphertextBlob": blob_b64, "EncryptionContext": {"owner": owner}}, token(sub))


def test_jwt_users_get_data_keys_only_for_their_own_owner(strict):
    kms = strict.client()
    key = kms.create_key(Policy=json.dumps(OWN_DATA_POLICY))["KeyMetadata"]["Arn"]
    st, a = gdk(strict, "alice", key, "alice")
    assert st == 200, a
    st, e = gdk(strict, "alice", key, "bob")
    assert (st, e["__type"]) == (400, "AccessDeniedException"), e
    assert "kms:GenerateDataKey" in e["message"] and arn("alice") in e["message"]
    st, b = gdk(strict, "bob", key, "bob")
    assert st == 200
    # Alice cannot unwrap bob's data key, neither under his context nor hers.
    assert decrypt(strict, "alice", b["CiphertextBlob"], "bob")[1]["__type"] == "AccessDeniedException"
    # Under her own owner the policy allows the call, but the context is bound to the blob.
    assert decrypt(strict, "alice", b["CiphertextBlob"], "alice")[1]["__type"] == "InvalidCiphertextException"
    st, out = decrypt(strict, "bob", b["CiphertextBlob"], "bob")
    assert st == 200 and out["Plaintext"] == b["Plaintext"]
    # Other operations are not in the key policy for JWT users.
    st, e = bearer_call(strict, "DescribeKey", {"KeyId": key}, token("alice"))
    assert e["__type"] == "AccessDeniedException"


def test_a_grant_lets_bob_in_and_retiring_it_takes_that_away(strict):
    kms = strict.client()
    key = kms.create_key(Policy=json.dumps(OWN_DATA_POLICY))["KeyMetadata"]["Arn"]
    _, a = gdk(strict, "alice", key, "alice")
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[1]["__type"] == "AccessDeniedException"
    g = kms.create_grant(
        KeyId=key,
        GranteePrincipal=arn("bob"),
        RetiringPrincipal=ADMIN,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"owner": "alice"}},
        Name="share-with-bob",
    )
    st, out = decrypt(strict, "bob", a["CiphertextBlob"], "alice")
    assert st == 200 and out["Plaintext"] == a["Plaintext"]
    # The grant is for Decrypt under owner=alice only.
    assert gdk(strict, "bob", key, "alice")[1]["__type"] == "AccessDeniedException"
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert [x["GrantId"] for x in grants] == [g["GrantId"]]
    assert grants[0]["Constraints"] == {"EncryptionContextEquals": {"owner": "alice"}}
    assert [x["GrantId"] for x in kms.list_retirable_grants(RetiringPrincipal=ADMIN)["Grants"]] == [g["GrantId"]]
    # Same name and parameters: the same grant, not a second one.
    again = kms.create_grant(KeyId=key, GranteePrincipal=arn("bob"), RetiringPrincipal=ADMIN,
                             Operations=["Decrypt"], Constraints={"EncryptionContextEquals": {"owner": "alice"}},
                             Name="share-with-bob")
    assert again["GrantId"] == g["GrantId"]
    kms.retire_grant(GrantToken=g["GrantToken"])
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[1]["__type"] == "AccessDeniedException"
    assert kms.list_grants(KeyId=key)["Grants"] == []
    # RevokeGrant, and a subset constraint.
    g2 = kms.create_grant(KeyId=key, GranteePrincipal=arn("bob"), Operations=["Decrypt"],
                          Constraints={"EncryptionContextSubset": {"owner": "alice"}})
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[0] == 200
    kms.revoke_grant(KeyId=key, GrantId=g2["GrantId"])
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[1]["__type"] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        kms.revoke_grant(KeyId=key, GrantId=g2["GrantId"])
    assert e.value.response["Error"]["Code"] == "InvalidGrantIdException"


def test_explicit_deny_in_an_identity_policy_beats_a_grant(strict, tmp_path):
    kms = strict.client()
    key = kms.create_key(Policy=json.dumps(OWN_DATA_POLICY))["KeyMetadata"]["Arn"]
    _, a = gdk(strict, "alice", key, "alice")
    kms.create_grant(KeyId=key, GranteePrincipal=arn("bob"), Operations=["Decrypt"])
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[0] == 200
    deny = tmp_path / "deny.json"
    deny.write_text(json.dumps({"Statement": [{"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}))
    strict.run("policy", "put", "NoDecrypt", "--file", str(deny))
    strict.run("policy", "attach", "NoDecrypt", "--principal", "bob")
    st, e = decrypt(strict, "bob", a["CiphertextBlob"], "alice")
    assert e["__type"] == "AccessDeniedException" and "explicit deny" in e["message"] and "NoDecrypt" in e["message"]
    strict.run("policy", "detach", "NoDecrypt", "--principal", "bob")
    assert decrypt(strict, "bob", a["CiphertextBlob"], "alice")[0] == 200


def test_default_key_policy_delegates_to_identity_policies(strict, tmp_path):
    kms = strict.client()
    key = kms.create_key()["KeyMetadata"]["Arn"]
    pol = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert pol["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    creds = json.loads(strict.run("access-key", "create", "--principal", "carol").stdout)
    carol = strict.client(creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        carol.encrypt(KeyId=key, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    enc_only = tmp_path / "enc.json"
    enc_only.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": key}]}))
    strict.run("policy", "put", "EncryptOnly", "--file", str(enc_only))
    strict.run("policy", "group-add", "writers", "carol")
    strict.run("policy", "attach", "EncryptOnly", "--group", "writers")
    blob = carol.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        carol.decrypt(CiphertextBlob=blob)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    other = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError):
        carol.encrypt(KeyId=other, Plaintext=b"x")
    # Account-wide actions without a key follow identity policies alone.
    with pytest.raises(ClientError):
        carol.create_key()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_put_key_policy_is_validated_and_never_half_applied(strict):
    kms = strict.client()
    key = kms.create_key(Policy=json.dumps(OWN_DATA_POLICY))["KeyMetadata"]["Arn"]
    before = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    bad = [
        "{ not json",
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "kms:*"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*",
                                   "Condition": {"StringEquals": {"kms:NoSuchKey": "x"}}}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*",
                                   "Condition": {"StringEqualz": {"aws:username": "x"}}}]}),
    ]
    for text in bad:
        with pytest.raises(ClientError) as e:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=text)
        assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException", text
    huge = json.dumps({"Statement": [{"Sid": "x" * 33000, "Effect": "Allow", "Principal": "*", "Action": "kms:*"}]})
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=huge)
    assert e.value.response["Error"]["Code"] in ("ValidationException", "LimitExceededException")
    # The lockout safety check: a policy that leaves the admin out is refused...
    lockout = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": arn("alice")}, "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=lockout)
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert "update the key policy" in e.value.response["Error"]["Message"]
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == before
    with pytest.raises(ClientError) as e:
        kms.create_key(Policy=lockout)
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    # ...unless the caller bypasses it; then the admin is locked out for real.
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    with pytest.raises(ClientError) as e:
        kms.get_key_policy(KeyId=key, PolicyName="default")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_simulate_names_the_deciding_statement(strict):
    kms = strict.client()
    key = kms.create_key(Policy=json.dumps(OWN_DATA_POLICY))["KeyMetadata"]["Arn"]
    out = strict.run("policy", "simulate", "--principal", "alice", "--action", "kms:Decrypt", "--key", key,
                     "-c", "owner=alice", "--jwt-claim", "sub=alice")
    assert out.stdout.startswith("allow") and "OwnDataOnly" in out.stdout
    out = strict.run("policy", "simulate", "--principal", "alice", "--action", "kms:Decrypt", "--key", key,
                     "-c", "owner=bob", "--jwt-claim", "sub=alice", check=False)
    assert out.returncode == 3 and out.stdout.startswith("deny")
    body = json.dumps({"PrincipalName": "alice", "Action": "kms:GenerateDataKey", "KeyId": key,
                       "EncryptionContext": {"owner": "alice"}, "JwtClaims": {"sub": "alice"}}).encode()
    headers = sigv4_headers(strict.url, body, "KmsProxy.SimulatePolicy", strict.access_key, strict.secret_key)
    st, r = post(strict.url, body, headers)
    assert st == 200 and r["Decision"] == "allow" and "OwnDataOnly" in r["DecidedBy"]


@pytest.mark.skipif(shutil.which("aws") is None, reason="aws CLI not installed")
def test_aws_cli_puts_and_gets_key_policies(strict, tmp_path):
    kms = strict.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=strict.access_key, AWS_SECRET_ACCESS_KEY=strict.secret_key,
               AWS_DEFAULT_REGION=REGION)
    pol = dict(OWN_DATA_POLICY)
    f = tmp_path / "p.json"
    f.write_text(json.dumps(pol))
    aws = ["aws", "--endpoint-url", strict.url, "kms"]
    subprocess.run(aws + ["put-key-policy", "--key-id", key, "--policy-name", "default", "--policy", f"file://{f}"],
                   check=True, env=env, capture_output=True)
    got = subprocess.run(aws + ["get-key-policy", "--key-id", key, "--policy-name", "default", "--query", "Policy", "--output", "text"],
                         check=True, env=env, capture_output=True, text=True).stdout
    assert json.loads(got) == pol


def test_identity_policies_from_the_config_file_with_a_jwt_variable(tmp_path):
    (tmp_path / "browser.json").write_text(json.dumps({"Statement": [{
        "Sid": "OwnDataViaIdentity", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "${jwt:sub}"}}}]}))
    extra = ["[[policy.identity]]", 'name = "BrowserUsers"', 'document_file = "browser.json"', 'groups = ["jwt-users"]']
    p = Proxy(tmp_path, extra_config=extra, open_jwt_users=False).start()
    try:
        key = p.client().create_key()["KeyMetadata"]["Arn"]   # default policy: delegate to identity policies
        assert gdk(p, "alice", key, "alice")[0] == 200
        st, e = gdk(p, "alice", key, "bob")
        assert e["__type"] == "AccessDeniedException"
        out = p.run("policy", "simulate", "--principal", "alice", "--action", "kms:GenerateDataKey", "--key", key,
                    "-c", "owner=alice", "--jwt-claim", "sub=alice")
        assert "identity policy BrowserUsers/OwnDataViaIdentity" in out.stdout
    finally:
        p.stop()
    # A bad policy file stops the proxy from starting, and changes nothing.
    (tmp_path / "browser.json").write_text('{"Statement": [{"Effect": "Allow", "Action": "kms:*"}]}')
    with pytest.raises(RuntimeError):
        p.start()
    assert "OwnDataViaIdentity" in p.run("policy", "get", "BrowserUsers").stdout
