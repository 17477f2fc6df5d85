"""The Parameter Store through boto3 and the aws CLI: every operation and its
limits, SecureString both ways, path policies, and SSM-shaped errors with no
partial writes."""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from helpers import ACCOUNT, Proxy, REGION


def ssm_client(p, access_key=None, secret_key=None):
    return boto3.client("ssm", endpoint_url=p.url, region_name=REGION,
                        aws_access_key_id=access_key or p.access_key,
                        aws_secret_access_key=secret_key or p.secret_key,
                        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.fixture(scope="module")
def sp(tmp_path_factory):
    p = Proxy(tmp_path_factory.mktemp("ssm")).start()
    yield p
    p.stop()


@pytest.fixture()
def ssm(sp):
    return ssm_client(sp)


def code(e):
    return e.value.response["Error"]["Code"]


def test_put_get_overwrite_history_and_delete(ssm):
    assert ssm.put_parameter(Name="/t1/a", Value="v1", Type="String", Description="first")["Version"] == 1
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/t1/a", Value="v2", Type="String")
    assert code(e) == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name="/t1/a", Value="v2", Overwrite=True)["Version"] == 2
    got = ssm.get_parameter(Name="/t1/a")["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("v2", 2, "String")
    assert got["ARN"] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/t1/a"
    assert ssm.get_parameter(Name="/t1/a:1")["Parameter"]["Value"] == "v1"
    hist = ssm.get_parameter_history(Name="/t1/a")["Parameters"]
    assert [h["Value"] for h in hist] == ["v1", "v2"] and hist[0]["Description"] == "first"
    assert ssm.put_parameter(Name="/t1/list", Value="a,b,c", Type="StringList")["Version"] == 1
    assert ssm.get_parameter(Name="/t1/list")["Parameter"]["Value"] == "a,b,c"
    ssm.delete_parameter(Name="/t1/a")
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/t1/a")
    assert code(e) == "ParameterNotFound"
    with pytest.raises(ClientError) as e:
        ssm.delete_parameter(Name="/t1/a")
    assert code(e) == "ParameterNotFound"
    ssm.put_parameter(Name="/t1/b", Value="x", Type="String")
    out = ssm.delete_parameters(Names=["/t1/b", "/t1/nope"])
    assert out["DeletedParameters"] == ["/t1/b"] and out["InvalidParameters"] == ["/t1/nope"]


def test_pagination_over_250_parameters(ssm):
    for i in range(250):
        ssm.put_parameter(Name=f"/many/p{i:03d}", Value=str(i), Type="String")
    names, token, pages = [], None, 0
    while True:
        kw = {"Path": "/many", "Recursive": True, "MaxResults": 10}
        if token:
            kw["NextToken"] = token
        r = ssm.get_parameters_by_path(**kw)
        assert len(r["Parameters"]) <= 10
        names += [x["Name"] for x in r["Parameters"]]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert names == [f"/many/p{i:03d}" for i in range(250)] and pages == 25
    pager = ssm.get_paginator("describe_parameters")
    described = [x["Name"] for page in pager.paginate(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/many/"]}],
        PaginationConfig={"PageSize": 50}) for x in page["Parameters"]]
    assert len(described) == 250
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path="/many", MaxResults=11)
    assert code(e) == "ValidationException"


def test_get_parameters_batch_limit_and_selectors(ssm):
    for i in range(11):
        ssm.put_parameter(Name=f"/batch/p{i}", Value=str(i), Type="String")
    r = ssm.get_parameters(Names=[f"/batch/p{i}" for i in range(9)] + ["/batch/missing"])
    assert len(r["Parameters"]) == 9 and r["InvalidParameters"] == ["/batch/missing"]
    with pytest.raises(ClientError) as e:
        ssm.get_parameters(Names=[f"/batch/p{i}" for i in range(11)])
    assert code(e) == "ValidationException"
    ssm.label_parameter_version(Name="/batch/p0", Labels=["prod"])
    assert ssm.get_parameters(Names=["/batch/p0:prod", "/batch/p0:1"])["Parameters"][0]["Selector"] == ":prod"


def test_version_and_label_limits(ssm):
    for i in range(101):
        ssm.put_parameter(Name="/vers/x", Value=f"v{i + 1}", Type="String", Overwrite=True)
    hist = [h["Version"] for h in ssm.get_paginator("get_parameter_history").paginate(Name="/vers/x").build_full_result()["Parameters"]]
    assert hist == list(range(2, 102)), "the 100 newest versions are kept"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/vers/x:1")
    assert code(e) == "ParameterVersionNotFound"
    ssm.label_parameter_version(Name="/vers/x", ParameterVersion=2, Labels=["keep"])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/vers/x", Value="v102", Type="String", Overwrite=True)
    assert code(e) == "ParameterMaxVersionLimitExceeded"
    assert ssm.get_parameter(Name="/vers/x")["Parameter"]["Version"] == 101, "nothing was written"
    labels = [f"l{i}" for i in range(10)]
    r = ssm.label_parameter_version(Name="/vers/x", ParameterVersion=50, Labels=labels)
    assert r["InvalidLabels"] == []
    with pytest.raises(ClientError) as e:
        ssm.label_parameter_version(Name="/vers/x", ParameterVersion=50, Labels=["eleventh"])
    assert code(e) == "ParameterVersionLabelLimitExceeded"
    r = ssm.label_parameter_version(Name="/vers/x", ParameterVersion=51, Labels=["l0", "9bad", "awsx", "ok"])
    assert sorted(r["InvalidLabels"]) == ["9bad", "awsx"]
    assert ssm.get_parameter(Name="/vers/x:l0")["Parameter"]["Version"] == 51, "a label moves"
    r = ssm.unlabel_parameter_version(Name="/vers/x", ParameterVersion=51, Labels=["l0", "never"])
    assert r["RemovedLabels"] == ["l0"] and r["InvalidLabels"] == ["never"]
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/vers/x:l0")
    assert code(e) == "ParameterVersionNotFound"


def test_tiers_depth_and_bad_input_change_nothing(sp, ssm):
    ssm.put_parameter(Name="/tier/std", Value="x" * 4096, Type="String")
    before = sp.snapshot()
    bad = [
        dict(Name="/tier/big", Value="x" * 4097, Type="String"),
        dict(Name="/tier/adv", Value="x" * 8193, Type="String", Tier="Advanced"),
        dict(Name="/bad name", Value="x", Type="String"),
        dict(Name="/bad/$", Value="x", Type="String"),
        dict(Name="/aws/x", Value="x", Type="String"),
        dict(Name="/" + "/".join(["l"] * 16), Value="x", Type="String"),
        dict(Name="/pat/x", Value="abc", Type="String", AllowedPattern="^\\d+$"),
        dict(Name="/pat/y", Value="123", Type="String", AllowedPattern="([unclosed"),
        dict(Name="/typ/x", Value="1", Type="Secret"),
        dict(Name="/tags/x", Value="1", Type="String", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}]),
    ]
    codes = []
    for kw in bad:
        with pytest.raises(ClientError) as e:
            ssm.put_parameter(**kw)
        codes.append(code(e))
    assert codes == ["ValidationException", "ValidationException", "ValidationException", "ValidationException",
                     "ValidationException", "HierarchyLevelLimitExceededException",
                     "ParameterPatternMismatchException", "InvalidAllowedPatternException",
                     "UnsupportedParameterType", "ValidationException"]
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/tier/std:nolabel")
    assert code(e) == "ParameterVersionNotFound"
    assert sp.snapshot() == before, "refused requests wrote nothing"
    assert ssm.put_parameter(Name="/" + "/".join(["l"] * 15), Value="x", Type="String")["Version"] == 1
    assert ssm.put_parameter(Name="/tier/adv", Value="x" * 8192, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    assert ssm.put_parameter(Name="/tier/auto", Value="x" * 5000, Type="String", Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    assert ssm.put_parameter(Name="/pat/z", Value="42", Type="String", AllowedPattern="^\\d+$")["Version"] == 1


def test_securestring_server_side_needs_both_permissions(sp, tmp_path):
    kms = sp.client()
    ssm = ssm_client(sp)
    ssm.put_parameter(Name="/sec/managed", Value="m-secret", Type="SecureString")
    key = kms.create_key()["KeyMetadata"]["Arn"]   # default key policy: identity policies decide
    ssm.put_parameter(Name="/sec/custom", Value="c-secret", Type="SecureString", KeyId=key)
    assert ssm.get_parameter(Name="/sec/custom", WithDecryption=True)["Parameter"]["Value"] == "c-secret"
    creds = json.loads(sp.run("access-key", "create", "--principal", "reader").stdout)
    reader = ssm_client(sp, creds["AccessKeyId"], creds["SecretAccessKey"])
    f = tmp_path / "ssm-only.json"
    f.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter*",
                                            "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sec/*"}]}))
    sp.run("policy", "put", "SsmOnly", "--file", str(f))
    sp.run("policy", "attach", "SsmOnly", "--principal", "reader")
    enc = reader.get_parameter(Name="/sec/custom")["Parameter"]["Value"]
    assert enc != "c-secret" and "c-secret" not in base64.b64decode(enc).decode("latin-1")
    with pytest.raises(ClientError) as e:
        reader.get_parameter(Name="/sec/custom", WithDecryption=True)
    assert code(e) == "AccessDeniedException" and "kms:Decrypt" in e.value.response["Error"]["Message"]
    f2 = tmp_path / "kms-decrypt.json"
    f2.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]}))
    sp.run("policy", "put", "DecryptCustom", "--file", str(f2))
    sp.run("policy", "attach", "DecryptCustom", "--principal", "reader")
    assert reader.get_parameter(Name="/sec/custom", WithDecryption=True)["Parameter"]["Value"] == "c-secret"
    # The service-managed key's policy lets any principal of the account in, but only through the Parameter Store.
    assert reader.get_parameter(Name="/sec/managed", WithDecryption=True)["Parameter"]["Value"] == "m-secret"
    blob = base64.b64decode(ssm.get_parameter(Name="/sec/managed")["Parameter"]["Value"])
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sec/managed"})
    assert code(e) == "AccessDeniedException", "direct use of alias/managed/ssm is refused"


def test_path_policies_hide_denied_parameters(sp, tmp_path):
    ssm = ssm_client(sp)
    for n in ["/app/prod/db", "/app/prod/url", "/app/dev/url", "/other/x"]:
        ssm.put_parameter(Name=n, Value="v", Type="String", Overwrite=True)
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    f = tmp_path / "app.json"
    f.write_text(json.dumps({"Statement": [
        {"Effect": "Allow", "Action": ["ssm:GetParametersByPath", "ssm:GetParameter*"], "Resource": [f"{arn}/app", f"{arn}/app/*"]},
        {"Sid": "NoProdDb", "Effect": "Deny", "Action": "ssm:GetParameter*", "Resource": f"{arn}/app/prod/db"},
    ]}))
    sp.run("policy", "put", "AppReader", "--file", str(f))
    creds = json.loads(sp.run("access-key", "create", "--principal", "appreader").stdout)
    sp.run("policy", "attach", "AppReader", "--principal", "appreader")
    r = ssm_client(sp, creds["AccessKeyId"], creds["SecretAccessKey"])
    names = [x["Name"] for x in r.get_parameters_by_path(Path="/app", Recursive=True)["Parameters"]]
    assert names == ["/app/dev/url", "/app/prod/url"]
    assert [x["Name"] for x in ssm.get_parameters_by_path(Path="/app", Recursive=True)["Parameters"]] == \
        ["/app/dev/url", "/app/prod/db", "/app/prod/url"], "the admin still sees it"
    with pytest.raises(ClientError) as e:
        r.get_parameter(Name="/app/prod/db")
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError):
        r.get_parameters_by_path(Path="/other")
    assert [x["Name"] for x in r.get_parameters_by_path(Path="/app/prod")["Parameters"]] == ["/app/prod/url"]


def test_every_read_and_write_is_audited(sp):
    ssm = ssm_client(sp)
    before = len(sp.run("audit", "export").stdout.splitlines())
    ssm.put_parameter(Name="/aud/x", Value="1", Type="String")
    ssm.get_parameter(Name="/aud/x")
    ssm.get_parameters_by_path(Path="/aud")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/aud/none")
    recs = [json.loads(l) for l in sp.run("audit", "export").stdout.splitlines()[before:]]
    assert [r["event"]["event_name"] for r in recs] == ["PutParameter", "GetParameter", "GetParametersByPath", "GetParameter"]
    assert recs[0]["event"]["resources"] == ["/aud/x"] and recs[3]["event"]["error_code"] == "ParameterNotFound"


@pytest.mark.skipif(shutil.which("aws") is None, reason="aws CLI not installed")
def test_aws_cli_ssm(sp):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=sp.access_key, AWS_SECRET_ACCESS_KEY=sp.secret_key, AWS_DEFAULT_REGION=REGION)
    aws = ["aws", "--endpoint-url", sp.url, "ssm"]
    subprocess.run(aws + ["put-parameter", "--name", "/cli/x", "--value", "hello", "--type", "SecureString"],
                   check=True, env=env, capture_output=True)
    out = subprocess.run(aws + ["get-parameter", "--name", "/cli/x", "--with-decryption", "--query", "Parameter.Value",
                                "--output", "text"], check=True, env=env, capture_output=True, text=True).stdout
    assert out.strip() == "hello"
    out = subprocess.run(aws + ["get-parameters-by-path", "--path", "/cli", "--query", "Parameters[].Name", "--output", "text"],
                         check=True, env=env, capture_output=True, text=True).stdout
    assert out.split() == ["/cli/x"]


def cli_bin():
    env = os.environ.get("KMS_ENVELOPE_BIN")
    if env:
        return env
    root = Path(__file__).resolve().parents[2]
    return str(Path(os.environ.get("CARGO_TARGET_DIR", root / "target")) / "debug" / "kms-envelope")


def test_end_to_end_secrets_leave_no_plaintext_in_the_store(sp):
    assert Path(cli_bin()).exists(), "run.sh builds the CLI"
    key = sp.client().create_key()["KeyMetadata"]["Arn"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=sp.access_key, AWS_SECRET_ACCESS_KEY=sp.secret_key, AWS_REGION=REGION)
    common = ["--kms-proxy", sp.url, "--key-id", key]
    secret = "S3cr3t-e2e-" + base64.b16encode(os.urandom(8)).decode()

    def cli(*args, check=True):
        return subprocess.run([cli_bin(), *args], env=env, capture_output=True, text=True, check=check, timeout=60)

    cli("put-secret", "--name", "/e2e/db", "--value", secret, *common)
    ssm = ssm_client(sp)
    ssm.put_parameter(Name="/e2e/plain", Value="not-secret", Type="String")
    stored = ssm.get_parameter(Name="/e2e/db", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString" and secret not in stored["Value"]
    assert base64.b64decode(stored["Value"])[:1] == b"\x02", "an AWS Encryption SDK v2 message"
    assert cli("get-secret", "--name", "/e2e/db", *common).stdout == secret
    lines = [json.loads(l) for l in cli("get-secrets-by-path", "--path", "/e2e", *common).stdout.splitlines()]
    assert lines == [{"name": "/e2e/db", "value": secret}, {"name": "/e2e/plain", "value": "not-secret"}]
    # The proxy's files hold no plaintext of it.
    for f in sp.dir.glob("store.db*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    # A message copied to another name does not decrypt there.
    ssm.put_parameter(Name="/e2e/moved", Value=stored["Value"], Type="SecureString", KeyId="client-encrypted")
    r = cli("get-secret", "--name", "/e2e/moved", *common, check=False)
    assert r.returncode == 1 and "error[ENCRYPTION_CONTEXT_MISMATCH]" in r.stderr
    r = cli("get-secret", "--name", "/e2e/none", *common, check=False)
    assert r.returncode == 1 and "error[PARAMETER_NOT_FOUND]" in r.stderr
    # Only AWS Encryption SDK messages are accepted as client-encrypted.
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/e2e/bad", Value=base64.b64encode(b"plaintext!").decode(), Type="SecureString",
                          KeyId="client-encrypted")
    assert code(e) == "ValidationException"
