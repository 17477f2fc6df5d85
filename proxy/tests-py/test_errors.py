"""Bad input and bad credentials: AWS-shaped errors, and nothing changes."""

import datetime
import json
import time

import pytest

from helpers import (AUDIENCE, MAX_BODY, bearer_call, call, good_claims, jwt, post,
                     sigv4_headers)


def assert_aws_error(status, body, want_status, want_type):
    assert status == want_status, body
    assert body.get("__type") == want_type, body
    assert isinstance(body.get("message"), str) and body["message"], body


@pytest.fixture()
def unchanged(proxy):
    """Assert that the store is byte-for-byte the same after the test body."""
    before = proxy.snapshot()
    yield
    assert proxy.snapshot() == before


@pytest.mark.parametrize(
    "op,payload,status,etype",
    [
        ("CreateKey", b"{not json", 400, "SerializationException"),
        ("CreateKey", b"[1, 2]", 400, "SerializationException"),
        ("CreateKey", {"Description": 42}, 400, "SerializationException"),
        ("CreateKey", {"Tags": "not-a-list"}, 400, "SerializationException"),
        ("CreateKey", {"KeyUsage": "SIGN_VERIFY"}, 400, "UnsupportedOperationException"),
        ("CreateKey", {"Policy": "{ not json"}, 400, "MalformedPolicyDocumentException"),
        ("GenerateDataKey", {"KeyId": 7, "KeySpec": "AES_256"}, 400, "SerializationException"),
        ("GenerateDataKey", {"KeySpec": "AES_256"}, 400, "ValidationException"),
        ("Encrypt", {"KeyId": "alias/none", "Plaintext": "!!!"}, 400, "SerializationException"),
        ("Decrypt", {"CiphertextBlob": ["x"]}, 400, "SerializationException"),
        ("Decrypt", {}, 400, "ValidationException"),
        ("ScheduleKeyDeletion", {"KeyId": "11111111-2222-3333-4444-555555555555", "PendingWindowInDays": "7"},
         400, "SerializationException"),
        ("ListKeys", {"Limit": 0}, 400, "ValidationException"),
        ("ListKeys", {"Marker": "***"}, 400, "InvalidMarkerException"),
        ("CreateAlias", {"AliasName": "alias/x", "TargetKeyId": "arn:aws:s3:::bucket"}, 400, "InvalidArnException"),
        ("DeleteKeyForever", {}, 400, "UnknownOperationException"),
    ],
)
def test_bad_requests_get_aws_errors_and_change_nothing(proxy, unchanged, op, payload, status, etype):
    st, body = call(proxy, op, payload)
    assert_aws_error(st, body, status, etype)


def test_missing_target_header(proxy, unchanged):
    body = b"{}"
    headers = sigv4_headers(proxy.url, body, None, proxy.access_key, proxy.secret_key)
    assert_aws_error(*post(proxy.url, body, headers), 400, "UnknownOperationException")


def test_wrong_target_prefix(proxy, unchanged):
    body = b"{}"
    headers = sigv4_headers(proxy.url, body, "DynamoDB_20120810.ListTables", proxy.access_key, proxy.secret_key)
    assert_aws_error(*post(proxy.url, body, headers), 400, "UnknownOperationException")


def test_wrong_content_type(proxy, unchanged):
    body = b"{}"
    headers = sigv4_headers(proxy.url, body, "TrentService.CreateKey", proxy.access_key, proxy.secret_key,
                            content_type="text/plain")
    assert_aws_error(*post(proxy.url, body, headers), 400, "SerializationException")


def test_oversized_body(proxy, unchanged):
    body = json.dumps({"Description": "x" * (MAX_BODY + 10)}).encode()
    st, resp = call(proxy, "CreateKey", body)
    assert_aws_error(st, resp, 413, "RequestEntityTooLargeException")


def test_no_credentials(proxy, unchanged):
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.CreateKey"}
    assert_aws_error(*post(proxy.url, b"{}", headers), 403, "MissingAuthenticationTokenException")


def test_bad_sigv4_signature(proxy, unchanged):
    body = b"{}"
    headers = sigv4_headers(proxy.url, body, "TrentService.CreateKey", proxy.access_key, "wrong-secret")
    st, resp = post(proxy.url, body, headers)
    assert_aws_error(st, resp, 400, "InvalidSignatureException")
    assert "does not match" in resp["message"]


def test_tampered_body_after_signing(proxy, unchanged):
    headers = sigv4_headers(proxy.url, b"{}", "TrentService.CreateKey", proxy.access_key, proxy.secret_key)
    assert_aws_error(*post(proxy.url, b'{"Description":"x"}', headers), 400, "InvalidSignatureException")


def test_expired_sigv4_signature(proxy, unchanged):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    st, resp = call(proxy, "CreateKey", {}, when=old)
    assert_aws_error(st, resp, 400, "InvalidSignatureException")
    assert "expired" in resp["message"].lower()
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    assert_aws_error(*call(proxy, "CreateKey", {}, when=future), 400, "InvalidSignatureException")


def test_sigv4_wrong_scope(proxy, unchanged):
    assert_aws_error(*call(proxy, "CreateKey", {}, region="eu-west-1"), 400, "InvalidSignatureException")
    assert_aws_error(*call(proxy, "CreateKey", {}, service="s3"), 400, "InvalidSignatureException")


def test_unknown_access_key(proxy, unchanged):
    body = b"{}"
    headers = sigv4_headers(proxy.url, body, "TrentService.CreateKey", "AKIDUNKNOWN", proxy.secret_key)
    assert_aws_error(*post(proxy.url, body, headers), 400, "UnrecognizedClientException")


def test_boto3_with_wrong_secret_changes_nothing(proxy, unchanged):
    from botocore.exceptions import ClientError

    bad = proxy.client(secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        bad.create_key()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


@pytest.mark.parametrize(
    "token,etype",
    [
        (jwt(good_claims(exp=int(time.time()) - 3600)), "ExpiredTokenException"),
        (jwt(good_claims(aud="someone-else")), "UnrecognizedClientException"),
        (jwt(good_claims(iss="https://evil.test")), "UnrecognizedClientException"),
        (jwt(good_claims(nbf=int(time.time()) + 3600)), "UnrecognizedClientException"),
        (jwt(good_claims(), secret=b"a different secret of enough length!!"), "UnrecognizedClientException"),
        (jwt(good_claims(), alg="HS512"), "UnrecognizedClientException"),
        ("not.a.jwt", "UnrecognizedClientException"),
        ("garbage", "UnrecognizedClientException"),
    ],
)
def test_bad_jwts_are_refused(proxy, unchanged, token, etype):
    assert_aws_error(*bearer_call(proxy, "CreateKey", {}, token), 400, etype)


def test_good_jwt_works(proxy):
    token = jwt(good_claims(aud=["other", AUDIENCE]))
    st, body = bearer_call(proxy, "CreateKey", {"Description": "from a browser"}, token)
    assert st == 200, body
    kid = body["KeyMetadata"]["KeyId"]
    st, body = bearer_call(proxy, "GenerateDataKey", {"KeyId": kid, "KeySpec": "AES_256"}, token)
    assert st == 200 and body["KeyId"].endswith(kid)


def test_error_responses_never_echo_secrets(proxy):
    token = jwt(good_claims(exp=int(time.time()) - 3600))
    st, body = bearer_call(proxy, "CreateKey", {}, token)
    assert token not in json.dumps(body)
    headers = sigv4_headers(proxy.url, b"{}", "TrentService.CreateKey", proxy.access_key, "wrong")
    sig = headers["authorization"].rsplit("=", 1)[1]
    st, body = post(proxy.url, b"{}", headers)
    assert sig not in json.dumps(body) and proxy.secret_key not in json.dumps(body)
    log = (proxy.dir / "server.log").read_text()
    assert proxy.secret_key not in log and sig not in log and token not in log
