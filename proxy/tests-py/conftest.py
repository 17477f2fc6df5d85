import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Proxy  # noqa: E402


@pytest.fixture(scope="session")
def proxy(tmp_path_factory):
    p = Proxy(tmp_path_factory.mktemp("kms-proxy")).start()
    yield p
    p.stop()


@pytest.fixture()
def fresh_proxy(tmp_path):
    """A proxy of its own, for tests that restart it."""
    p = Proxy(tmp_path).start()
    yield p
    p.stop()


@pytest.fixture()
def kms(proxy):
    return proxy.client()


@pytest.fixture()
def key(kms):
    return kms.create_key(Description="test key")["KeyMetadata"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]
