"""Configuration of the Axis daemon: TOML file + ``AXIS_<SECTION>_<KEY>`` overrides.

Where it comes from, later winning:

1. the defaults below;
2. the TOML file given by ``--config FILE`` or, without it, the ``AXIS_CONFIG``
   environment variable (no file at all is fine: the defaults run a local daemon);
3. environment variables ``AXIS_<SECTION>_<KEY>`` (section names have no underscore,
   so ``AXIS_SERVER_TLS_CERT`` is ``server.tls_cert``). A value is read as a TOML
   scalar or array when it looks like one (``8080``, ``true``, ``["a.pem", "b.pem"]``),
   otherwise as a string; for string keys the text is taken as is. An empty value sets
   an optional key to none. Variables whose section is not one below (``AXIS_CONFIG``,
   ``AXIS_TEST_PG_URL``, ``AXIS_EVENT_LOOP``) are not configuration keys and are
   ignored here; an unknown key of a known section is an error. ``routes`` can only be
   set in the file.

Relative paths in the file are relative to the file's directory; relative paths from
the defaults or the environment are relative to the working directory.

Unknown keys raise :class:`ConfigError` ``config.unknown-key``; values of the wrong type
``config.bad-type``; bad values ``config.bad-value``.

Keys and defaults (``<data_dir>`` is ``axis.data_dir``), a Markdown table for the README:

| key | default | meaning |
|---|---|---|
| `server.host` | `"127.0.0.1"` | address to listen on |
| `server.port` | `8080` | TCP port |
| `server.tls_cert` | none | PEM certificate chain: serve HTTPS |
| `server.tls_key` | none | PEM private key of `tls_cert` |
| `server.tls_client_ca` | none | PEM CA(s) of client certificates (mTLS) |
| `server.max_body_bytes` | `67108864` (64 MiB) | largest request body accepted |
| `server.public_url` | none | URL the axis is reached at |
| `server.workers` | CPU count | processes verifying packets; `0`: in-process threads |
| `database.url` | `sqlite+aiosqlite:///<data_dir>/axis.db` | or `postgresql+asyncpg://...` |
| `database.pool_size` | `5` | connections kept open |
| `database.max_overflow` | `10` | extra connections under load |
| `database.pool_timeout` | `30.0` | seconds to wait for a connection |
| `axis.organ_id` | `"000.00.00.H36"` | this axis's own OrganId |
| `axis.name` | `"Axis"` | display name of this axis (also its node name) |
| `axis.data_dir` | `"./axis-data"` | SQLite database, security key |
| `axis.mode` | `"province"` | `"province"` or `"national"` |
| `trust.anchors` | `[]` | PEM files of trusted root CAs |
| `trust.intermediates` | `[]` | PEM files of intermediate CAs |
| `trust.crls` | `[]` | CRL files or `http(s)://` URLs |
| `trust.profile` | none | shipped trust profile name, e.g. `"gov-vn"` |
| `policy.require_signature` | `false` | refuse unsigned packets |
| `policy.revocation_mode` | `"soft-fail"` | `"hard-fail"`, `"soft-fail"` or `"off"` |
| `policy.unsafe_accept_sha1_as_legacy` | `false` | accept SHA-1 signatures as "legacy" |
| `policy.algorithms` | `"default"` | algorithm profile name |
| `limits.max_bytes` | `67108864` (64 MiB) | largest packet parsed |
| `limits.max_depth` | `64` | deepest XML nesting |
| `limits.max_elements` | `100000` | most XML elements in a packet |
| `vxp.prefix` | `"/vxp"` | path prefix of the VXP-compatible API |
| `national.endpoint` | none | base URL of the national VXP axis |
| `national.systemid` | none | our systemid there |
| `national.secret` | none | our HMAC secret there |
| `national.poll_interval` | `30.0` | seconds between national polls (`0`: on demand only) |
| `national.directory_sync_interval` | `86400.0` | seconds between directory syncs (`0`: never) |
| `national.timeout` | `30.0` | seconds a whole call to the national axis may take |
| `national.connections` | `10` | most concurrent connections to the national axis |
| `national.tls_ca` | none | PEM CA(s) of the national axis's HTTPS certificate |
| `routes` | `[{match="*", via="local"}]` | `[[routes]]` tables, first match wins |
| `security.secret_key_file` | `<data_dir>/secret.key` | 32-byte key encrypting stored secrets |
| `audit.cert` | none | PEM certificate of the axis (+ its chain): signs audit heads and receipts |
| `audit.key` | none | PEM private key of `audit.cert` (unencrypted; file mode 0600) |
| `audit.sign_interval` | `300.0` | seconds between signatures of the audit chain head |
| `log.format` | `"text"` | `"text"` or `"json"` (one JSON object a line, with the request id) |
| `log.level` | `"INFO"` | `DEBUG`, `INFO`, `WARNING`, `ERROR` |
| `alerts.webhook_url` | none | POST each alert (JSON) to this URL |
| `alerts.webhook_secret` | none | HMAC-SHA256 key: header `X-Axis-Signature: sha256=<hex>` |
| `alerts.smtp_host` | none | send alerts by e-mail through this SMTP server |
| `alerts.smtp_port` | `25` | its port |
| `alerts.smtp_starttls` | `false` | STARTTLS before sending |
| `alerts.smtp_username` | none | SMTP login (with `smtp_password`) |
| `alerts.smtp_password` | none | SMTP password |
| `alerts.email_from` | `"axis@localhost"` | sender address of alert e-mails |
| `alerts.email_to` | `[]` | recipients of alert e-mails |
| `alerts.interval` | `60.0` | seconds between evaluations of the alert rules |
| `alerts.destination_failing_minutes` | `15.0` | a destination failing this long raises an alert |
| `alerts.inbox_waiting_minutes` | `60.0` | a packet untaken this long in an inbox raises one |
| `alerts.cert_expiry_days` | `30` | a certificate expiring within this many days raises one |
| `delivery.sweep_interval` | `1.0` | seconds between sweeps for due deliveries (push, national) |
| `delivery.max_attempts` | `8` | attempts before a delivery becomes a dead letter |
| `delivery.base_delay` | `2.0` | seconds before the first retry (then doubled, with jitter) |
| `delivery.max_delay` | `600.0` | longest wait between two attempts (seconds) |
| `delivery.max_age_hours` | `72.0` | a delivery still failing this long is a dead letter |
| `delivery.per_destination_concurrency` | `4` | attempts at once per destination |
| `delivery.max_in_flight` | `64` | attempts at once in all |
| `delivery.push_timeout` | `30.0` | seconds a push request may take |
| `delivery.breaker_failures` | `5` | consecutive failures that pause a destination |
| `delivery.breaker_failing_for` | `300.0` | ...or seconds of failing without a success |
| `delivery.breaker_cooldown` | `60.0` | seconds a paused destination waits for a probe |
| `delivery.client_cert` | none | PEM client certificate presented to push endpoints (mTLS) |
| `delivery.client_key` | none | PEM private key of `client_cert` |
| `delivery.ca_file` | none | PEM CA(s) of the push endpoints' HTTPS certificates |

``routes`` example::

    [[routes]]
    match = "*.H36"      # our province: delivered here
    via = "local"
    [[routes]]
    match = "*"          # everybody else: through the national axis
    via = "national"
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from axis.directory import DEFAULT_ROUTES, ROUTE_KINDS, RouteRule, is_valid_code, validate_pattern
from axis_errors import ConfigError, InputError

__all__ = [
    "AlertsConfig",
    "AuditConfig",
    "AxisSection",
    "Config",
    "DatabaseConfig",
    "DeliveryConfig",
    "LimitsConfig",
    "LogConfig",
    "NationalConfig",
    "PolicyConfig",
    "SecurityConfig",
    "ServerConfig",
    "TrustConfig",
    "VxpConfig",
    "load_config",
]

MiB: Final = 1024 * 1024
CONFIG_ENV: Final = "AXIS_CONFIG"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    max_body_bytes: int = 64 * MiB
    public_url: str | None = None
    workers: int | None = None  # None: the CPU count (axis.analysis.default_workers)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = ""  # resolved from axis.data_dir when empty
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class AxisSection:
    organ_id: str = "000.00.00.H36"
    name: str = "Axis"
    data_dir: Path = Path("./axis-data")
    mode: Literal["province", "national"] = "province"


@dataclass(frozen=True, slots=True)
class TrustConfig:
    anchors: tuple[Path, ...] = ()
    intermediates: tuple[Path, ...] = ()
    crls: tuple[str, ...] = ()
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    require_signature: bool = False
    revocation_mode: Literal["hard-fail", "soft-fail", "off"] = "soft-fail"
    unsafe_accept_sha1_as_legacy: bool = False
    algorithms: str = "default"


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_bytes: int = 64 * MiB
    max_depth: int = 64
    max_elements: int = 100_000


@dataclass(frozen=True, slots=True)
class VxpConfig:
    prefix: str = "/vxp"


@dataclass(frozen=True, slots=True)
class NationalConfig:
    endpoint: str | None = None
    systemid: str | None = None
    secret: str | None = field(default=None, repr=False)
    poll_interval: float = 30.0
    directory_sync_interval: float = 86400.0
    timeout: float = 30.0
    connections: int = 10
    tls_ca: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    secret_key_file: Path = Path()  # resolved from axis.data_dir when unset


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """The axis's own certificate and key (audit heads, receipts: ``axis.auditsign``)."""

    cert: Path | None = None
    key: Path | None = field(default=None, repr=False)
    sign_interval: float = 300.0


@dataclass(frozen=True, slots=True)
class LogConfig:
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    email_from: str = "axis@localhost"
    email_to: tuple[str, ...] = ()
    interval: float = 60.0
    destination_failing_minutes: float = 15.0
    inbox_waiting_minutes: float = 60.0
    cert_expiry_days: int = 30

    @property
    def enabled(self) -> bool:
        return self.webhook_url is not None or (self.smtp_host is not None and bool(self.email_to))


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """The delivery engine: retries, limits, circuit breaker, push requests."""

    sweep_interval: float = 1.0
    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 600.0
    max_age_hours: float = 72.0
    per_destination_concurrency: int = 4
    max_in_flight: int = 64
    push_timeout: float = 30.0
    breaker_failures: int = 5
    breaker_failing_for: float = 300.0
    breaker_cooldown: float = 60.0
    client_cert: Path | None = None
    client_key: Path | None = field(default=None, repr=False)
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; ``source`` is the file it was read from, if any."""

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    axis: AxisSection = AxisSection()
    trust: TrustConfig = TrustConfig()
    policy: PolicyConfig = PolicyConfig()
    limits: LimitsConfig = LimitsConfig()
    vxp: VxpConfig = VxpConfig()
    national: NationalConfig = NationalConfig()
    routes: tuple[RouteRule, ...] = DEFAULT_ROUTES
    security: SecurityConfig = SecurityConfig()
    audit: AuditConfig = AuditConfig()
    log: LogConfig = LogConfig()
    alerts: AlertsConfig = AlertsConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    source: Path | None = None


_SECTIONS: Final[dict[str, type[Any]]] = {
    "server": ServerConfig,
    "database": DatabaseConfig,
    "axis": AxisSection,
    "trust": TrustConfig,
    "policy": PolicyConfig,
    "limits": LimitsConfig,
    "vxp": VxpConfig,
    "national": NationalConfig,
    "security": SecurityConfig,
    "audit": AuditConfig,
    "log": LogConfig,
    "alerts": AlertsConfig,
    "delivery": DeliveryConfig,
}
_HINTS: Final[dict[str, dict[str, Any]]] = {
    name: typing.get_type_hints(cls) for name, cls in _SECTIONS.items()
}
_PATH_LIKE_STR: Final = {("trust", "crls")}  # strings that may be relative file paths
_UNSET: Final = object()


def _unknown(key: str, where: str) -> ConfigError:
    return ConfigError(
        f"Unknown configuration key {key!r} ({where}).",
        code="config.unknown-key",
        details={"key": key},
    )


def _bad_type(key: str, expected: str, value: Any, where: str) -> ConfigError:
    return ConfigError(
        f"Configuration key {key!r} ({where}) must be {expected}, not {type(value).__name__}.",
        code="config.bad-type",
        details={"key": key, "expected": expected},
    )


def _convert(key: str, hint: Any, value: Any, base: Path, where: str) -> Any:
    """Check ``value`` against the dataclass type ``hint`` and convert it."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(key, args[0], value, base, where)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"Configuration key {key!r} ({where}) must be one of "
                f"{', '.join(map(repr, allowed))}, not {value!r}.",
                code="config.bad-value",
                details={"key": key, "allowed": list(allowed)},
            )
        return value
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list | tuple):
            raise _bad_type(key, "a list", value, where)
        return tuple(_convert(key, item, v, base, where) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _bad_type(key, "true or false", value, where)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_type(key, "an integer", value, where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_type(key, "a number", value, where)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _bad_type(key, "a string", value, where)
        return value
    if hint is Path:
        if not isinstance(value, str):
            raise _bad_type(key, "a path (string)", value, where)
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p
    raise AssertionError(f"unsupported config type {hint!r}")  # pragma: no cover


def _env_value(hint: Any, raw: str) -> Any:
    """Read an environment value: TOML scalar/array when it parses, else the text."""
    if raw == "":
        return None
    text_only = hint in (str, Path, str | None, Path | None) or typing.get_origin(hint) is Literal
    if text_only:
        return raw
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if typing.get_origin(hint) is tuple and isinstance(value, str):
        return [value]  # a single path or URL for a list key
    return value


def _build_section(
    name: str, values: Mapping[str, Any], base: Path, where: str, env_keys: set[str]
) -> Any:
    cls = _SECTIONS[name]
    hints = _HINTS[name]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{name}.{key}"
        if key not in hints:
            raise _unknown(full, where)
        src = "environment" if key in env_keys else where
        if value is None:
            default = next(f for f in dataclasses.fields(cls) if f.name == key).default
            if default is not None:
                raise ConfigError(
                    f"Configuration key {full!r} ({src}) cannot be empty.",
                    code="config.bad-value",
                    details={"key": full},
                )
            kwargs[key] = None
            continue
        kw_base = Path.cwd() if key in env_keys else base
        converted = _convert(full, hints[key], value, kw_base, src)
        if (name, key) in _PATH_LIKE_STR:
            converted = tuple(
                v if "://" in v or Path(v).is_absolute() else str(kw_base / v) for v in converted
            )
        kwargs[key] = converted
    return cls(**kwargs)


def _routes(value: Any, where: str) -> tuple[RouteRule, ...]:
    if not isinstance(value, list) or not value:
        raise _bad_type("routes", "a non-empty list of {match, via} tables", value, where)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _bad_type(f"routes[{i}]", "a table", item, where)
        for key in item:
            if key not in ("match", "via"):
                raise _unknown(f"routes[{i}].{key}", where)
        match, via = item.get("match"), item.get("via")
        if not isinstance(match, str) or not isinstance(via, str):
            raise _bad_type(f"routes[{i}]", "a table with string match and via", item, where)
        if via not in ROUTE_KINDS:
            raise ConfigError(
                f"routes[{i}].via ({where}) must be one of {', '.join(ROUTE_KINDS)}, not {via!r}.",
                code="config.bad-value",
                details={"key": f"routes[{i}].via"},
            )
        try:
            pattern = validate_pattern(match)
        except InputError as exc:
            raise ConfigError(
                f"routes[{i}].match ({where}): {exc.message}",
                code="config.bad-value",
                details={"key": f"routes[{i}].match"},
            ) from None
        out.append(RouteRule(pattern, via))
    return tuple(out)


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for var, raw in env.items():
        if not var.startswith("AXIS_"):
            continue
        section, _, key = var[5:].partition("_")
        section, key = section.lower(), key.lower()
        if section not in _SECTIONS:
            continue
        if key not in _HINTS[section]:
            raise _unknown(f"{section}.{key}", f"environment variable {var}")
        out.setdefault(section, {})[key] = _env_value(_HINTS[section][key], raw)
    return out


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"Configuration file {path} does not exist.",
            code="config.not-found",
            details={"path": str(path)},
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read configuration file {path}: {exc.strerror}.",
            code="config.unreadable",
            details={"path": str(path)},
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Configuration file {path} is not valid TOML: {exc}.",
            code="config.bad-toml",
            details={"path": str(path)},
        ) from None


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration (see the module docstring for keys and precedence).

    ``env`` defaults to ``os.environ``; tests pass their own mapping.
    """
    if env is None:
        env = os.environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    raw: dict[str, Any] = {}
    base = Path.cwd()
    where = "defaults"
    if path is not None:
        path = path.expanduser().absolute()
        raw = _read_file(path)
        base = path.parent
        where = str(path)
    for key, value in raw.items():
        if key != "routes" and (key not in _SECTIONS or not isinstance(value, dict)):
            if key in _SECTIONS:
                raise _bad_type(key, "a table", value, where)
            raise _unknown(key, where)
    overrides = _env_overrides(env)
    sections: dict[str, Any] = {}
    for name in _SECTIONS:
        values = dict(raw.get(name, {}))
        env_values = overrides.get(name, {})
        values.update(env_values)
        sections[name] = _build_section(name, values, base, where, set(env_values))
    routes = _routes(raw["routes"], where) if "routes" in raw else DEFAULT_ROUTES

    axis_sec: AxisSection = sections["axis"]
    organ = axis_sec.organ_id.strip().upper()
    if not is_valid_code(organ):
        raise ConfigError(
            f"axis.organ_id {axis_sec.organ_id!r} is not an OrganId "
            "(1-35 characters of digits, A-Z and dots).",
            code="config.bad-value",
            details={"key": "axis.organ_id"},
        )
    data_dir = axis_sec.data_dir.absolute()
    sections["axis"] = dataclasses.replace(axis_sec, organ_id=organ, data_dir=data_dir)
    db: DatabaseConfig = sections["database"]
    if not db.url:
        sections["database"] = dataclasses.replace(
            db, url=f"sqlite+aiosqlite:///{data_dir / 'axis.db'}"
        )
    sec: SecurityConfig = sections["security"]
    if "secret_key_file" not in {**raw.get("security", {}), **overrides.get("security", {})}:
        sections["security"] = dataclasses.replace(sec, secret_key_file=data_dir / "secret.key")
    _check(sections)
    return Config(routes=routes, source=path, **sections)


def _check(sections: Mapping[str, Any]) -> None:
    server: ServerConfig = sections["server"]
    if not 0 <= server.port <= 65535:
        raise ConfigError(
            f"server.port {server.port} is not a TCP port (0-65535).",
            code="config.bad-value",
            details={"key": "server.port"},
        )
    if (server.tls_cert is None) != (server.tls_key is None):
        raise ConfigError(
            "server.tls_cert and server.tls_key must be given together.",
            code="config.bad-value",
            details={"key": "server.tls_key"},
        )
    if server.workers is not None and server.workers < 0:
        raise ConfigError(
            f"server.workers must be 0 (in-process) or more, not {server.workers}.",
            code="config.bad-value",
            details={"key": "server.workers"},
        )
    audit: AuditConfig = sections["audit"]
    if (audit.cert is None) != (audit.key is None):
        raise ConfigError(
            "audit.cert and audit.key must be given together.",
            code="config.bad-value",
            details={"key": "audit.key"},
        )
    if server.tls_client_ca is not None and server.tls_cert is None:
        raise ConfigError(
            "server.tls_client_ca (mTLS) needs server.tls_cert and server.tls_key.",
            code="config.bad-value",
            details={"key": "server.tls_client_ca"},
        )
    positive = {
        "server.max_body_bytes": server.max_body_bytes,
        "limits.max_bytes": sections["limits"].max_bytes,
        "limits.max_depth": sections["limits"].max_depth,
        "limits.max_elements": sections["limits"].max_elements,
        "database.pool_size": sections["database"].pool_size,
        "national.poll_interval": sections["national"].poll_interval,
        "audit.sign_interval": sections["audit"].sign_interval,
        "alerts.interval": sections["alerts"].interval,
        "alerts.destination_failing_minutes": sections["alerts"].destination_failing_minutes,
        "alerts.inbox_waiting_minutes": sections["alerts"].inbox_waiting_minutes,
        "alerts.cert_expiry_days": sections["alerts"].cert_expiry_days,
        "delivery.sweep_interval": sections["delivery"].sweep_interval,
        "delivery.max_attempts": sections["delivery"].max_attempts,
        "delivery.max_age_hours": sections["delivery"].max_age_hours,
        "delivery.per_destination_concurrency": sections["delivery"].per_destination_concurrency,
        "delivery.max_in_flight": sections["delivery"].max_in_flight,
        "delivery.push_timeout": sections["delivery"].push_timeout,
        "delivery.breaker_failures": sections["delivery"].breaker_failures,
        "delivery.breaker_failing_for": sections["delivery"].breaker_failing_for,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(
                f"{key} must be greater than zero, not {value}.",
                code="config.bad-value",
                details={"key": key},
            )
    prefix: str = sections["vxp"].prefix
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
        raise ConfigError(
            f"vxp.prefix {prefix!r} must be a path such as '/vxp' (no trailing slash).",
            code="config.bad-value",
            details={"key": "vxp.prefix"},
        )
