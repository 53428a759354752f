"""Configuration: defaults, TOML file, AXIS_* overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.config import Config, load_config
from axis.directory import RouteRule
from axis_errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "axis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, env={})
    assert cfg.server.host == "127.0.0.1" and cfg.server.port == 8080
    assert cfg.server.tls_cert is None and not cfg.server.tls
    assert cfg.server.max_body_bytes == 64 * 1024 * 1024
    assert cfg.axis.data_dir == tmp_path / "axis-data"
    assert cfg.database.url == f"sqlite+aiosqlite:///{tmp_path / 'axis-data' / 'axis.db'}"
    assert cfg.security.secret_key_file == tmp_path / "axis-data" / "secret.key"
    assert cfg.axis.organ_id == "000.00.00.H36" and cfg.axis.mode == "province"
    assert cfg.vxp.prefix == "/vxp"
    assert cfg.routes == (RouteRule("*", "local"),)
    assert cfg.policy.revocation_mode == "soft-fail"
    assert not cfg.policy.require_signature and not cfg.policy.unsafe_accept_sha1_as_legacy
    assert cfg.national.poll_interval == 30.0 and not cfg.national.enabled
    assert cfg.trust.anchors == () and cfg.trust.crls == ()
    assert cfg.source is None


def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[server]
host = "0.0.0.0"
port = 8443
tls_cert = "tls/cert.pem"
tls_key = "/etc/axis/key.pem"
tls_client_ca = "tls/ca.pem"

[database]
url = "postgresql+asyncpg://axis@db/axis"
pool_size = 20

[axis]
organ_id = "000.00.00.h36"
name = "Trục Lâm Đồng"
data_dir = "data"
mode = "national"

[trust]
anchors = ["trust/root.pem"]
crls = ["crl/ca.crl", "http://crl.example/ca.crl"]
profile = "gov-vn"

[policy]
require_signature = true
revocation_mode = "hard-fail"

[limits]
max_depth = 40

[national]
endpoint = "https://vxp.example/vxp"
systemid = "vxp.h36"
secret = "s3cret"
poll_interval = 5

[[routes]]
match = "*.h36"
via = "local"

[[routes]]
match = "*"
via = "national"
""",
    )
    cfg = load_config(path, env={})
    assert cfg.source == path
    assert cfg.server.host == "0.0.0.0" and cfg.server.port == 8443 and cfg.server.tls
    assert cfg.server.tls_cert == tmp_path / "tls" / "cert.pem"
    assert cfg.server.tls_key == Path("/etc/axis/key.pem")
    assert cfg.database.url == "postgresql+asyncpg://axis@db/axis"
    assert cfg.database.pool_size == 20
    assert cfg.axis.organ_id == "000.00.00.H36"
    assert cfg.axis.data_dir == tmp_path / "data"
    assert cfg.security.secret_key_file == tmp_path / "data" / "secret.key"
    assert cfg.trust.anchors == (tmp_path / "trust" / "root.pem",)
    assert cfg.trust.crls == (str(tmp_path / "crl" / "ca.crl"), "http://crl.example/ca.crl")
    assert cfg.policy.require_signature and cfg.policy.revocation_mode == "hard-fail"
    assert cfg.limits.max_depth == 40 and cfg.limits.max_elements == 100_000
    assert cfg.national.poll_interval == 5.0 and cfg.national.enabled
    assert "s3cret" not in repr(cfg)
    assert cfg.routes == (RouteRule("*.H36", "local"), RouteRule("*", "national"))


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\nhost = "::1"\n')
    env = {
        "AXIS_SERVER_PORT": "9100",
        "AXIS_SERVER_TLS_CERT": "/srv/cert.pem",
        "AXIS_SERVER_TLS_KEY": "/srv/key.pem",
        "AXIS_POLICY_REQUIRE_SIGNATURE": "true",
        "AXIS_TRUST_ANCHORS": '["/a.pem", "/b.pem"]',
        "AXIS_TRUST_CRLS": "http://crl.example/one.crl",
        "AXIS_NATIONAL_SECRET": "12345",  # looks like a number, is a string key
        "AXIS_NATIONAL_POLL_INTERVAL": "2.5",
        "AXIS_AXIS_NAME": "Node 2",
        "AXIS_CONFIG": "ignored-here",
        "AXIS_TEST_PG_URL": "not a config key",
        "HOME": "/root",
    }
    cfg = load_config(path, env=env)
    assert cfg.server.port == 9100 and cfg.server.host == "::1"
    assert cfg.server.tls_cert == Path("/srv/cert.pem")
    assert cfg.policy.require_signature is True
    assert cfg.trust.anchors == (Path("/a.pem"), Path("/b.pem"))
    assert cfg.trust.crls == ("http://crl.example/one.crl",)
    assert cfg.national.secret == "12345"
    assert cfg.national.poll_interval == 2.5
    assert cfg.axis.name == "Node 2"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[vxp]\nprefix = '/api/vxp'\n")
    cfg = load_config(None, env={"AXIS_CONFIG": str(path)})
    assert cfg.vxp.prefix == "/api/vxp" and cfg.source == path


def test_empty_environment_value_clears_optional_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[trust]\nprofile = 'gov-vn'\n")
    assert load_config(path, env={"AXIS_TRUST_PROFILE": ""}).trust.profile is None
    with pytest.raises(ConfigError):
        load_config(path, env={"AXIS_SERVER_PORT": ""})


@pytest.mark.parametrize(
    ("text", "env", "code", "names"),
    [
        ("[server]\nprot = 1\n", {}, "config.unknown-key", "server.prot"),
        ("[sever]\nport = 1\n", {}, "config.unknown-key", "sever"),
        ("", {"AXIS_SERVER_PROT": "1"}, "config.unknown-key", "server.prot"),
        ("[[routes]]\nmatch='*'\nvia='local'\nweight=1\n", {}, "config.unknown-key", "weight"),
        ("[server]\nport = '8080'\n", {}, "config.bad-type", "server.port"),
        ("[server]\nport = true\n", {}, "config.bad-type", "server.port"),
        ("", {"AXIS_SERVER_PORT": "eighty"}, "config.bad-type", "server.port"),
        ("[policy]\nrequire_signature = 'yes'\n", {}, "config.bad-type", "require_signature"),
        ("[trust]\nanchors = 'a.pem'\n", {}, "config.bad-type", "trust.anchors"),
        ("server = 3\n", {}, "config.bad-type", "server"),
        ("[axis]\nmode = 'county'\n", {}, "config.bad-value", "axis.mode"),
        ("[axis]\norgan_id = 'H 36'\n", {}, "config.bad-value", "axis.organ_id"),
        ("[server]\nport = 70000\n", {}, "config.bad-value", "server.port"),
        ("[server]\ntls_cert = 'c.pem'\n", {}, "config.bad-value", "tls_key"),
        ("[vxp]\nprefix = 'vxp/'\n", {}, "config.bad-value", "vxp.prefix"),
        ("[limits]\nmax_bytes = 0\n", {}, "config.bad-value", "limits.max_bytes"),
        ("[[routes]]\nmatch='*'\nvia='moon'\n", {}, "config.bad-value", "routes[0].via"),
        ("[[routes]]\nmatch='[AB]'\nvia='local'\n", {}, "config.bad-value", "routes[0].match"),
        ("routes = []\n", {}, "config.bad-type", "routes"),
        ("[server\n", {}, "config.bad-toml", "not valid TOML"),
    ],
)
def test_refusals_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], code: str, names: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.code == code
    assert names in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml", env={})
    assert info.value.code == "config.not-found"


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]
