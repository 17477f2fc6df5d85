#!/usr/bin/env python3
"""Create the demo's customer key in kms-proxy with a SigV4-signed CreateKey (stdlib only).

usage: demo_create_key.py URL REGION ACCESS_KEY SECRET_KEY POLICY_FILE  -> prints the key ARN
"""
import datetime
import hashlib
import hmac
import json
import sys
import urllib.request
from urllib.parse import urlparse


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def call(url, region, ak, sk, target, payload):
    body = json.dumps(payload).encode()
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urlparse(url).netloc
    headers = {"content-type": "application/x-amz-json-1.1", "host": host,
               "x-amz-date": amz_date, "x-amz-target": target}
    names = sorted(headers)
    canonical = "\n".join(["POST", "/", "", *(f"{n}:{headers[n]}" for n in names), "",
                           ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{region}/kms/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = sign(sign(sign(sign(("AWS4" + sk).encode(), day), region), "kms"), "aws4_request")
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    del headers["host"]
    req = urllib.request.Request(url.rstrip("/") + "/", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def main():
    url, region, ak, sk, policy_file = sys.argv[1:6]
    with open(policy_file) as f:
        policy = f.read()
    md = call(url, region, ak, sk, "TrentService.CreateKey",
              {"Description": "kms-envelope demo: end-to-end encrypted uploads", "Policy": policy})
    arn = md["KeyMetadata"]["Arn"]
    call(url, region, ak, sk, "TrentService.CreateAlias", {"AliasName": "alias/demo-uploads", "TargetKeyId": arn})
    print(arn)


if __name__ == "__main__":
    main()
