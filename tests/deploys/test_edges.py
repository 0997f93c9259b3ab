"""Hostile edges at the boundaries, through the real servers where each one bit: a version with
a trailing newline, redirects out of the origin, tokens with many spellings, lifetimes out of
range, and registry files of the wrong shape."""

from __future__ import annotations

import json
import socket
import time

import pytest

from skewguard import Skewguard
from skewguard.releases import FileRegistry, RegistryError
from skewguard.settings import Settings, SettingsError
from skewguard.tokens import make_token, verify_token

from ..conftest import run_cli

SERVERS = ["uvicorn", "gunicorn"]


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One request with the target exactly as given (no client normalises ``//host``)."""
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields


@pytest.mark.parametrize("kind", SERVERS)
def test_a_version_read_from_a_file_with_its_newline(servers, kind):
    server = servers(kind, APP_VERSION="v1.2.3\n", MANIFEST_REQUIRED="false")
    status, headers = raw_get(server.port, "/")
    assert status == 200 and headers["x-app-version"] == "v1.2.3"
    assert server.version() == "v1.2.3"


def test_a_version_with_a_newline_given_in_code_is_refused_in_one_line():
    with pytest.raises(SettingsError, match=r"^APP_VERSION must be 1-64 characters") as info:
        Settings(APP_VERSION="v1\n").validate()
    assert "\n" not in str(info.value).replace("\\n", "")
    for bad in ("v1\nX-Evil: 1", "v1 v2", "", "x" * 65):
        with pytest.raises(SettingsError):
            Settings(APP_VERSION=bad or "\n\n").validate()


ESCAPES = ["//evil.example/x", "///evil.example/x", "/\\evil.example/x", "/\\/evil.example"]


@pytest.mark.parametrize("kind", SERVERS)
def test_the_inertia_location_never_leaves_the_origin(servers, kind):
    server = servers(kind, APP_VERSION="v2", MANIFEST_REQUIRED="false")
    stale = {"X-Inertia": "true", "X-Inertia-Version": "v1"}
    targets = [*ESCAPES, "/%2f%2fevil.example/x", "/%2F%5Cevil.example", "//evil.example/x?a=1"]
    for target in targets:
        status, headers = raw_get(server.port, target, stale)
        assert status == 409, target
        location = headers["x-inertia-location"]
        assert location.startswith("/") and location[1:2] not in ("/", "\\"), (target, location)
        assert "\\" not in location
    status, headers = raw_get(server.port, "/page/two?tab=3", stale)
    assert headers["x-inertia-location"] == "/page/two?tab=3"  # an ordinary path is unchanged


def test_a_token_has_one_spelling():
    token = make_token("k", 600)
    assert verify_token("k", token)
    prefix, expiry, mac = token.split(".")
    variants = [
        f"{prefix}.0{expiry}.{mac}",  # a leading zero: the same expiry, another string
        f"{prefix}.00{expiry}.{mac}",
        f"{prefix}.+{expiry}.{mac}",
        f"{prefix}.{expiry}.{mac}\n",
        f"{prefix}.{expiry}.{mac}=",
        f" {token}",
    ]
    for variant in variants:
        assert not verify_token("k", variant), variant


@pytest.mark.parametrize(
    "ttl", ["0s", "0w", "99999999w", "999999999999999999999999w", "3651d", "²", "٦٠٠", "9" * 5000]
)
def test_token_lifetimes_out_of_range_are_usage_errors(ttl):
    result = run_cli("token", "--ttl", ttl, "--secret-key", "k")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("skewguard: error: Invalid value for --ttl")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("ttl", ["600", "10m"])
def test_a_token_lifetime_is_a_duration_or_plain_seconds(ttl):
    result = run_cli("token", "--ttl", ttl, "--secret-key", "k")
    assert result.returncode == 0 and verify_token("k", result.stdout.strip())
    expires = int(result.stdout.split(".")[1])
    assert 590 <= expires - time.time() <= 600


def test_the_longest_token_lifetime_verifies():
    result = run_cli("token", "--ttl", "3650d", "--secret-key", "k")
    assert result.returncode == 0 and verify_token("k", result.stdout.strip())


SHAPES = [
    "null",
    "[]",
    '"text"',
    "3",
    '{"releases": null}',
    '{"releases": {}}',
    '{"releases": [1]}',
    '{"releases": [{"version": "v1"}]}',
    '{"bust": "1", "releases": []}',
    '{"bust": true, "releases": []}',
    '{"releases": [{"version": "v1", "id": "v1", "created": "", "state": "gone"}]}',
    "{not json",
    "\xff\xfe",
]


@pytest.mark.parametrize("document", SHAPES)
def test_a_registry_file_of_the_wrong_shape_is_one_line(tmp_path, document):
    path = tmp_path / ".skewguard" / "registry.json"
    path.parent.mkdir()
    path.write_bytes(document.encode("latin-1"))
    with pytest.raises(RegistryError) as info:
        FileRegistry(str(path)).state()
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    listed = run_cli("release", "list", "--registry-path", str(path))
    assert listed.returncode == 1 and len(listed.stderr.strip().splitlines()) == 1, listed.stderr
    assert listed.stderr.startswith("skewguard: error: release registry ")
    # At start-up, the same line (never an AttributeError from deep inside).
    with pytest.raises(RegistryError, match="is not a registry"):
        Skewguard(APP_VERSION="v1", MANIFEST_REQUIRED=False, static_root=str(tmp_path))
    assert path.read_bytes() == document.encode("latin-1")  # nothing lost or rewritten


def test_a_good_registry_file_round_trips(tmp_path):
    path = tmp_path / "registry.json"
    registry = FileRegistry(str(path))
    registry.register("v1")
    registry.deploy("v2", "r2")
    assert json.loads(path.read_text())["bust"] == 1
    assert [(r.version, r.state) for r in registry.state().releases] == [
        ("v1", "retained"),
        ("v2", "active"),
    ]
