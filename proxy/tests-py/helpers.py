"""Helpers for the kms-proxy tests: a server process, raw signed requests,
JWTs, and a snapshot of the store for "no state change" checks."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

REGION = "us-east-1"
ACCOUNT = "111122223333"
JWT_SECRET = b"test-hs256-secret-0123456789abcdef-0123"
ISSUER = "https://issuer.test"
AUDIENCE = "kms-proxy"
MAX_BODY = 65536


def proxy_bin() -> str:
    env = os.environ.get("KMS_PROXY_BIN")
    if env:
        return env
    root = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    return str(target / "debug" / "kms-proxy")


class Proxy:
    """A kms-proxy in its own directory: init, access key, serve, restart."""

    def __init__(self, workdir: Path, jwt_extra=(), root_key=('source = "file"', 'file = "root.key"'),
                 extra_env=None, extra_config=(), open_jwt_users=True):
        """`extra_config`: more TOML lines, appended after the [jwt] table
        (so they start with a table header of their own)."""
        self.dir = workdir
        self.extra_env = dict(extra_env or {})
        self.config = workdir / "kms-proxy.toml"
        (workdir / "jwt.secret").write_bytes(JWT_SECRET)
        self.config.write_text(
            "\n".join(
                [
                    f'region = "{REGION}"',
                    f'account = "{ACCOUNT}"',
                    'listen = "127.0.0.1:0"',
                    'store_path = "store.db"',
                    f"max_body_bytes = {MAX_BODY}",
                    "[root_key]",
                    *root_key,
                    "[jwt]",
                    'hs256_secret_file = "jwt.secret"',
                    f'issuer = "{ISSUER}"',
                    f'audience = "{AUDIENCE}"',
                    *jwt_extra,
                    *extra_config,
                    "",
                ]
            )
        )
        self.db = workdir / "store.db"
        self.proc = None
        self.url = None
        self.run("init")
        creds = json.loads(self.run("access-key", "create", "--principal", "admin").stdout)
        self.access_key = creds["AccessKeyId"]
        self.secret_key = creds["SecretAccessKey"]
        # Policies are enforced: the admin and (unless a test says otherwise)
        # every JWT principal get the built-in administrator identity policy.
        self.run("policy", "attach", "AdministratorAccess", "--principal", "admin")
        if open_jwt_users:
            self.run("policy", "attach", "AdministratorAccess", "--group", "jwt-users")

    def run(self, *args, check=True):
        return subprocess.run(
            [proxy_bin(), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            check=check,
            env=self.env(),
            timeout=60,
        )

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KMS_PROXY_")}
        env["RUST_LOG"] = "info"
        env.update(self.extra_env)
        return env

    def start(self):
        log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [proxy_bin(), "--config", str(self.config), "serve"],
            stdout=subprocess.PIPE,
            stderr=log,
            env=self.env(),
        )
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"kms-proxy did not start: {line!r}; see {self.dir / 'server.log'}")
        self.url = line.split("listening on", 1)[1].strip()
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def client(self, access_key=None, secret_key=None, verify=None):
        return boto3.client(
            "kms",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            verify=verify,
            config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def snapshot(self):
        """Every row of every table, for "nothing changed" assertions."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            out = {}
            for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
                out[table] = con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            return out
        finally:
            con.close()


def sigv4_headers(url, body: bytes, target, access_key, secret_key, when=None,
                  region=REGION, service="kms", content_type="application/x-amz-json-1.1"):
    """Sign a POST with SigV4 (an implementation independent of the server's)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    host = urllib.parse.urlsplit(url).netloc
    headers = {"content-type": content_type, "host": host, "x-amz-date": amz_date}
    if target is not None:
        headers["x-amz-target"] = target
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + secret_key).encode(), date), region), service), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    )
    del headers["host"]
    return headers


def post(url, body: bytes, headers):
    """POST raw bytes; returns (status, parsed JSON body)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def call(proxy, op, payload, **sign_kw):
    """A correctly signed call with an arbitrary (possibly bad) body."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = sigv4_headers(proxy.url, body, f"TrentService.{op}", proxy.access_key, proxy.secret_key, **sign_kw)
    return post(proxy.url, body, headers)


def jwt(claims, secret=JWT_SECRET, alg="HS256"):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest())
    return f"{head}.{payload}.{sig}"


def good_claims(**over):
    now = int(time.time())
    c = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "nbf": now - 10}
    c.update(over)
    return c


def bearer_call(proxy, op, payload, token):
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": f"TrentService.{op}",
        "authorization": f"Bearer {token}",
    }
    return post(proxy.url, body, headers)
