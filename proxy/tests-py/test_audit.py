"""The audit trail: one event per call with the right fields, tamper
detection by `kms-proxy audit verify`, queries, and a SIGKILL crash test."""

import json
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import ACCOUNT, Proxy, bearer_call, call, good_claims, jwt, post, sigv4_headers


def records(proxy):
    out = proxy.run("audit", "export").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def segment_files(proxy):
    return sorted((proxy.dir / "store.db.audit").glob("audit-*.jsonl"))


def ext_call(proxy, op, payload):
    body = json.dumps(payload).encode()
    headers = sigv4_headers(proxy.url, body, f"KmsProxy.{op}", proxy.access_key, proxy.secret_key)
    return post(proxy.url, body, headers)


def raw(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def test_every_call_yields_exactly_one_event_with_the_right_fields(fresh_proxy):
    p = fresh_proxy
    kms = p.client()
    n0 = len(records(p))
    ids = []

    def remember(resp):
        ids.append(resp["ResponseMetadata"]["RequestId"])
        return resp

    key = remember(kms.create_key(Description="audited"))["KeyMetadata"]
    dk = remember(kms.generate_data_key(KeyId=key["Arn"], NumberOfBytes=32, EncryptionContext={"owner": "alice", "purpose": "upload"}))
    remember(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"owner": "alice", "purpose": "upload"}))
    remember(kms.rotate_key_on_demand(KeyId=key["KeyId"]))
    remember(kms.generate_data_key(KeyId=key["Arn"], NumberOfBytes=32))
    remember(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"owner": "alice", "purpose": "upload"}))
    # Failures are audited too: not found, wrong context, malformed, unauthenticated, denied.
    # A signature over another body: not authenticated.
    st, h, e = raw(p.url, b"{}", sigv4_headers(p.url, b'{"KeyId":"alias/none"}', "TrentService.DescribeKey", p.access_key, p.secret_key))
    assert e["__type"] == "InvalidSignatureException"
    body = json.dumps({"KeyId": "alias/none"}).encode()
    st, h, e = raw(p.url, body, sigv4_headers(p.url, body, "TrentService.DescribeKey", p.access_key, p.secret_key))
    assert e["__type"] == "NotFoundException"
    ids.append(h["x-amzn-RequestId"] if "x-amzn-RequestId" in h else h["x-amzn-requestid"])
    body = json.dumps({"CiphertextBlob": __import__("base64").b64encode(dk["CiphertextBlob"]).decode(), "EncryptionContext": {"owner": "bob"}}).encode()
    st, h, e = raw(p.url, body, sigv4_headers(p.url, body, "TrentService.Decrypt", p.access_key, p.secret_key))
    assert e["__type"] == "InvalidCiphertextException"
    st, h, e = raw(p.url, b"{not json", sigv4_headers(p.url, b"{not json", "TrentService.ListKeys", p.access_key, p.secret_key))
    assert e["__type"] == "SerializationException"
    st, h, e = raw(p.url, b"{}", {"content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.ListKeys"})
    assert st == 403
    st, e = bearer_call(p, "GenerateDataKey", {"KeyId": key["Arn"], "NumberOfBytes": 32}, jwt(good_claims(sub="mallory", exp=int(time.time()) - 3600)))
    assert e["__type"] == "ExpiredTokenException"
    calls = 12
    recs = records(p)[n0:]
    assert len(recs) == calls, [r["event"]["event_name"] for r in recs]
    ev = [r["event"] for r in recs]
    assert [e["event_name"] for e in ev] == ["CreateKey", "GenerateDataKey", "Decrypt", "RotateKeyOnDemand", "GenerateDataKey",
                                            "Decrypt", "DescribeKey", "DescribeKey", "Decrypt", "ListKeys", "ListKeys",
                                            "GenerateDataKey"]
    assert ev[5]["key_version"] == 1, "a version-1 ciphertext decrypted after rotation is audited as version 1"
    del ev[5]
    assert ev[5]["error_code"] == "InvalidSignatureException" and ev[5]["principal"] == "" and not ev[5]["allowed"]
    for e in ev[:5] + ev[6:9]:
        assert e["principal"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
        assert e["auth_method"] == "sigv4"
        assert e["source_ip"] == "127.0.0.1"
    assert "Boto3" in ev[0]["user_agent"] or "botocore" in ev[0]["user_agent"]
    assert ev[1]["key_arn"] == key["Arn"] and ev[1]["key_version"] == 1 and ev[1]["allowed"] and ev[1]["error_code"] is None
    ctx = ev[1]["encryption_context"]
    assert set(ctx) == {"owner", "purpose"} and all(v.startswith("hmac-sha256:") for v in ctx.values())
    assert "alice" not in json.dumps(ev)
    assert ev[2]["encryption_context"] == ctx, "the same value hashes the same, so it can be searched"
    assert ev[4]["key_version"] == 2, "after rotation new data keys use version 2"
    assert ev[2]["key_version"] == 1, "the decrypted blob was made under version 1"
    assert ev[6]["error_code"] == "NotFoundException"
    assert ev[7]["error_code"] == "InvalidCiphertextException"
    assert ev[8]["error_code"] == "SerializationException"
    assert ev[9]["error_code"] == "MissingAuthenticationTokenException" and ev[9]["auth_method"] == "none" and not ev[9]["allowed"]
    assert ev[10]["error_code"] == "ExpiredTokenException" and ev[10]["principal"] == ""
    got_ids = [r["event"]["request_id"] for r in recs]
    for rid in ids:
        assert rid in got_ids
    assert "ok:" in p.run("audit", "verify").stdout
    # Queries and last usage, through the API.
    st, r = ext_call(p, "LookupEvents", {"KeyId": key["Arn"], "EventName": "GenerateDataKey", "MaxResults": 1})
    assert st == 200 and len(r["Events"]) == 1 and r["Events"][0]["event"]["key_version"] == 2 and "NextToken" in r
    st, r2 = ext_call(p, "LookupEvents", {"KeyId": key["Arn"], "EventName": "GenerateDataKey", "MaxResults": 5, "NextToken": r["NextToken"]})
    assert [e["event"]["key_version"] for e in r2["Events"]] == [1]
    st, u = ext_call(p, "GetKeyLastUsage", {"KeyId": key["KeyId"]})
    assert u["LastUsedOperation"] == "Decrypt" and u["KeyId"] == key["Arn"] and u["LastUsedTime"].endswith("Z")


def tamper_and_check(p, mutate, expect_seq):
    seg = segment_files(p)[-1]
    orig = seg.read_text()
    lines = orig.splitlines()
    seg.write_text("\n".join(mutate(lines)) + "\n")
    out = p.run("audit", "verify", check=False)
    seg.write_text(orig)
    assert out.returncode == 3, out.stdout
    assert f"record {expect_seq}:" in out.stdout, out.stdout
    return out.stdout


def test_the_verifier_catches_each_kind_of_tampering(fresh_proxy):
    p = fresh_proxy
    kms = p.client()
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for _ in range(6):
        kms.generate_data_key(KeyId=key, NumberOfBytes=32)
    p.stop()
    head = p.run("audit", "head").stdout.strip()
    n = int(head.split(":")[0])
    assert n >= 7

    def edit(lines):
        r = json.loads(lines[3])
        r["event"]["allowed"] = not r["event"]["allowed"]
        lines[3] = json.dumps(r)
        return lines

    # Line 0 is the segment header; line i is record i.
    assert "changed" in tamper_and_check(p, edit, 3)
    tamper_and_check(p, lambda l: l[:2] + l[3:], 2)                 # deletion
    tamper_and_check(p, lambda l: l[:4] + [l[1]] + l[4:], 4)        # insertion (a copy)
    tamper_and_check(p, lambda l: l[:2] + [l[3], l[2]] + l[4:], 2)  # reordering
    # A cut tail is caught against the head kept elsewhere.
    seg = segment_files(p)[-1]
    orig = seg.read_text()
    seg.write_text("\n".join(orig.splitlines()[:-1]) + "\n")
    out = p.run("audit", "verify", "--head", head, check=False)
    assert out.returncode == 3 and "tail" in out.stdout
    seg.write_text(orig)
    assert p.run("audit", "verify", "--head", head).returncode == 0


def test_rotated_segments_verify_across_the_archive(fresh_proxy, tmp_path):
    p = fresh_proxy
    kms = p.client()
    kms.create_key()
    p.stop()
    archive = tmp_path / "archive"
    closed = Path(p.run("audit", "rotate", "--archive-to", str(archive)).stdout.strip())
    assert closed.parent == archive and closed.exists()
    p.start()
    p.client().list_keys()
    p.stop()
    assert p.run("audit", "verify", "--archive", str(archive)).returncode == 0
    out = p.run("audit", "verify", "--archive", str(tmp_path / "empty"), check=False)
    assert out.returncode == 3


def test_sigkill_under_load_loses_no_answered_event(fresh_proxy):
    p = fresh_proxy
    kms = p.client()
    key = kms.create_key()["KeyMetadata"]["Arn"]
    tok = jwt(good_claims(sub="loadtest", exp=int(time.time()) + 600))
    answered = []
    lock = threading.Lock()
    stop = time.time() + 3.0

    def worker():
        body = json.dumps({"KeyId": key, "NumberOfBytes": 32}).encode()
        headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.GenerateDataKey",
                   "authorization": f"Bearer {tok}"}
        while time.time() < stop:
            try:
                st, h, _ = raw(p.url, body, headers)
            except Exception:
                return
            rid = {k.lower(): v for k, v in h.items()}.get("x-amzn-requestid")
            with lock:
                answered.append(rid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    p.proc.send_signal(signal.SIGKILL)
    p.proc.wait()
    p.proc = None
    for t in threads:
        t.join()
    assert len(answered) > 50, len(answered)
    recorded = {r["event"]["request_id"] for r in records(p)}
    missing = [r for r in answered if r not in recorded]
    assert missing == [], f"{len(missing)} answered requests have no audit event"
    assert "ok:" in p.run("audit", "verify").stdout
    # The proxy starts again on the same trail and keeps chaining.
    p.start()
    p.client().list_keys()
    p.stop()
    assert "ok:" in p.run("audit", "verify").stdout
