"""Re-export of the project's exception root (see ``axis_errors``)."""

from axis_errors import (
    AuthError,
    AxisError,
    ConfigError,
    InputError,
    NotFoundError,
    PacketError,
    PeerError,
    SchemaError,
    SignatureError,
    StoreError,
    WorkerError,
    XmlError,
)

__all__ = [
    "AuthError",
    "AxisError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "PacketError",
    "PeerError",
    "SchemaError",
    "SignatureError",
    "StoreError",
    "WorkerError",
    "XmlError",
]
