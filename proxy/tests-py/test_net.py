"""Operating the proxy: CORS allow-list, built-in TLS, timeouts, graceful shutdown."""

import datetime
import http.client
import ipaddress
import json
import signal
import socket
import ssl
import time
import urllib.parse

import pytest
from botocore.exceptions import SSLError

from helpers import Proxy, bearer_call, good_claims, jwt

ALLOWED = "https://app.example.test"
REFUSED = "https://evil.example.test"


def request(url, method, path="/", headers=None, body=None, context=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cors_proxy(tmp_path_factory):
    p = Proxy(
        tmp_path_factory.mktemp("cors"),
        extra_config=["[cors]", f'allowed_origins = ["{ALLOWED}", "http://localhost:5173"]'],
    ).start()
    yield p
    p.stop()


def preflight(url, origin, req_headers="authorization,content-type,x-amz-target,x-amz-date"):
    return request(url, "OPTIONS", headers={
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": req_headers,
    })


def test_preflight_from_an_allowed_origin(cors_proxy):
    status, h, _ = preflight(cors_proxy.url, ALLOWED)
    assert status == 204
    assert h["access-control-allow-origin"] == ALLOWED
    assert "origin" in h["vary"].lower()
    allowed = {x.strip().lower() for x in h["access-control-allow-headers"].split(",")}
    for needed in ["x-amz-target", "authorization", "content-type", "x-amz-date",
                   "x-amz-security-token", "x-amz-user-agent"]:
        assert needed in allowed
    assert "POST" in h["access-control-allow-methods"]
    assert int(h["access-control-max-age"]) > 0
    # No credentials unless configured, and never a wildcard.
    assert "access-control-allow-credentials" not in h
    status, h, _ = preflight(cors_proxy.url, "http://localhost:5173")
    assert status == 204 and h["access-control-allow-origin"] == "http://localhost:5173"


def test_preflight_from_a_refused_origin(cors_proxy):
    for origin in [REFUSED, ALLOWED + ".evil.test", "http://app.example.test", "null"]:
        status, h, _ = preflight(cors_proxy.url, origin)
        assert status == 403, origin
        assert not any(k.startswith("access-control-allow") for k in h), (origin, h)


def test_cors_headers_on_actual_requests(cors_proxy):
    token = jwt(good_claims())
    body = json.dumps({"NumberOfBytes": 8}).encode()
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "TrentService.GenerateRandom",
        "authorization": f"Bearer {token}",
    }
    status, h, out = request(cors_proxy.url, "POST", headers={**headers, "Origin": ALLOWED}, body=body)
    assert status == 200 and len(json.loads(out)["Plaintext"]) > 0
    assert h["access-control-allow-origin"] == ALLOWED
    assert "x-amzn-requestid" in h["access-control-expose-headers"].lower()
    status, h, _ = request(cors_proxy.url, "POST", headers={**headers, "Origin": REFUSED}, body=body)
    assert "access-control-allow-origin" not in h
    # Errors carry the CORS headers too, so a page can read AWS's error body.
    status, h, out = request(cors_proxy.url, "POST", headers={
        "Origin": ALLOWED, "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "TrentService.GenerateRandom"}, body=body)
    assert status == 403 and json.loads(out)["__type"] == "MissingAuthenticationTokenException"
    assert h["access-control-allow-origin"] == ALLOWED


def test_no_cors_without_configuration(proxy):
    status, h, _ = preflight(proxy.url, ALLOWED)
    assert status != 204
    assert "access-control-allow-origin" not in h


def test_wildcard_with_credentials_is_refused_at_start(tmp_path):
    p = Proxy(tmp_path)
    with open(p.config, "a") as f:
        f.write('[cors]\nallowed_origins = ["*"]\nallow_credentials = true\n')
    r = p.run("serve", check=False)
    assert r.returncode != 0 and "wildcard" in r.stderr


def self_signed(tmp_path, name="127.0.0.1"):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / f"{name}-cert.pem"
    key_path = tmp_path / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_proxy(tmp_path_factory):
    pytest.importorskip("cryptography")
    d = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(d)
    p = Proxy(d, extra_config=["[tls]", f'cert_file = "{cert.name}"', f'key_file = "{key.name}"']).start()
    p.cert = cert
    yield p
    p.stop()


def test_tls_with_boto3(tls_proxy):
    assert tls_proxy.url.startswith("https://127.0.0.1:")
    kms = tls_proxy.client(verify=str(tls_proxy.cert))
    arn = kms.create_key(Description="over TLS")["KeyMetadata"]["Arn"]
    dk = kms.generate_data_key(KeyId=arn, KeySpec="AES_256", EncryptionContext={"a": "b"})
    pt = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"a": "b"})["Plaintext"]
    assert pt == dk["Plaintext"]
    ctx = ssl.create_default_context(cafile=str(tls_proxy.cert))
    status, _, body = request(tls_proxy.url, "GET", "/health", context=ctx)
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_tls_refuses_untrusted_and_plaintext(tls_proxy, tmp_path):
    other, _ = self_signed(tmp_path, "localhost")
    kms = tls_proxy.client(verify=str(other))
    with pytest.raises(SSLError):
        kms.list_keys()
    # Plain HTTP to the TLS port gets no HTTP answer.
    port = urllib.parse.urlsplit(tls_proxy.url).port
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        request(f"http://127.0.0.1:{port}", "GET", "/health")
    # The server survives both.
    status, _, _ = request(tls_proxy.url, "GET", "/health",
                           context=ssl.create_default_context(cafile=str(tls_proxy.cert)))
    assert status == 200


def test_tls_refuses_to_start_with_a_bad_key(tmp_path):
    cert, key = self_signed(tmp_path)
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    p = Proxy(tmp_path, extra_config=["[tls]", f'cert_file = "{cert.name}"', f'key_file = "{key.name}"'])
    r = p.run("serve", check=False)
    assert r.returncode != 0 and "tls" in r.stderr


@pytest.fixture()
def quick_proxy(tmp_path):
    p = Proxy(tmp_path, extra_config=["[timeouts]", "request_secs = 1", "header_read_secs = 1",
                                      "shutdown_grace_secs = 5"]).start()
    yield p
    p.stop()


def raw(url):
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    return s


def read_all(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        out += b
    return out


def test_request_timeout(quick_proxy):
    s = raw(quick_proxy.url)
    token = jwt(good_claims())
    s.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 100\r\n"
        + f"Authorization: Bearer {token}\r\n\r\n".encode() + b'{"Numb'
    )
    started = time.monotonic()
    s.settimeout(10)
    resp = b""
    while b"}" not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    elapsed = time.monotonic() - started
    s.close()
    assert resp.startswith(b"HTTP/1.1 408"), resp[:100]
    assert json.loads(resp.split(b"\r\n\r\n", 1)[1])["__type"] == "RequestTimeoutException"
    assert 0.5 < elapsed < 5


def test_header_read_timeout_closes_slow_clients(quick_proxy):
    s = raw(quick_proxy.url)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    started = time.monotonic()
    out = read_all(s)
    elapsed = time.monotonic() - started
    s.close()
    assert elapsed < 5, elapsed
    assert b"200 OK" not in out


def test_graceful_shutdown_finishes_requests_in_flight(quick_proxy):
    body = json.dumps({"NumberOfBytes": 16}).encode()
    token = jwt(good_claims())
    # An idle keep-alive connection must not hold the shutdown up.
    idle = raw(quick_proxy.url)
    busy = raw(quick_proxy.url)
    busy.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: TrentService.GenerateRandom\r\n"
        + f"Content-Length: {len(body)}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        + body[:5]
    )
    time.sleep(0.2)
    quick_proxy.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    # New connections are refused once the listener is closed.
    with pytest.raises(ConnectionRefusedError):
        raw(quick_proxy.url)
    busy.sendall(body[5:])
    busy.settimeout(10)
    resp = busy.recv(65536)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert quick_proxy.proc.wait(timeout=10) == 0
    quick_proxy.proc = None
    idle.close()
    busy.close()


def test_health_over_plain_http(proxy):
    status, h, body = request(proxy.url, "GET", "/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # And a bearer call still works without CORS configured.
    status, out = bearer_call(proxy, "GenerateRandom", {"NumberOfBytes": 4}, jwt(good_claims()))
    assert status == 200
