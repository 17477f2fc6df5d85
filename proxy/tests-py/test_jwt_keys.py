"""RS256 and ES256 bearer tokens, from a PEM key and from a JWKS file."""

import base64
import json
import time

import pytest

cryptography = pytest.importorskip("cryptography")

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

from helpers import AUDIENCE, ISSUER, Proxy, bearer_call, good_claims  # noqa: E402


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(alg, key, claims, kid=None):
    head = {"alg": alg, "typ": "JWT"}
    if kid:
        head["kid"] = kid
    msg = f"{b64u(json.dumps(head).encode())}.{b64u(json.dumps(claims).encode())}".encode()
    if alg == "RS256":
        sig = key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{msg.decode()}.{b64u(sig)}"


def pem(pub):
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def keys():
    return {
        "rsa_pem": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa_jwks": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec_jwks": ec.generate_private_key(ec.SECP256R1()),
        "other_rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="module")
def jwt_proxy(tmp_path_factory, keys):
    d = tmp_path_factory.mktemp("jwt-proxy")
    (d / "rs256.pem").write_text(pem(keys["rsa_pem"].public_key()))
    rn = keys["rsa_jwks"].public_key().public_numbers()
    en = keys["ec_jwks"].public_key().public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
         "n": b64u(rn.n.to_bytes((rn.n.bit_length() + 7) // 8, "big")), "e": b64u(rn.e.to_bytes(3, "big"))},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256",
         "x": b64u(en.x.to_bytes(32, "big")), "y": b64u(en.y.to_bytes(32, "big"))},
    ]}
    (d / "jwks.json").write_text(json.dumps(jwks))
    p = Proxy(d, jwt_extra=['rs256_public_key_file = "rs256.pem"', 'jwks_file = "jwks.json"']).start()
    yield p
    p.stop()


def test_rs256_and_es256_tokens_authenticate(jwt_proxy, keys):
    claims = good_claims(sub="carol", aud=AUDIENCE, iss=ISSUER)
    for token in (
        sign("RS256", keys["rsa_pem"], claims),
        sign("RS256", keys["rsa_jwks"], claims, kid="rsa-1"),
        sign("ES256", keys["ec_jwks"], claims, kid="ec-1"),
    ):
        st, body = bearer_call(jwt_proxy, "GenerateRandom", {"NumberOfBytes": 8}, token)
        assert st == 200, body


def test_bad_asymmetric_tokens_are_refused(jwt_proxy, keys):
    before = jwt_proxy.snapshot()
    claims = good_claims()
    for token, etype in (
        (sign("RS256", keys["other_rsa"], claims), "UnrecognizedClientException"),
        (sign("ES256", keys["ec_jwks"], claims, kid="rsa-1"), "UnrecognizedClientException"),
        (sign("RS256", keys["rsa_jwks"], good_claims(aud="nope"), kid="rsa-1"), "UnrecognizedClientException"),
        (sign("ES256", keys["ec_jwks"], good_claims(exp=int(time.time()) - 999), kid="ec-1"), "ExpiredTokenException"),
    ):
        st, body = bearer_call(jwt_proxy, "CreateKey", {}, token)
        assert (st, body["__type"]) == (400, etype), body
    assert jwt_proxy.snapshot() == before
