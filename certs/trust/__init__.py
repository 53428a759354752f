"""``certs.trust``: the same API as :mod:`certs.profiles`, under the name of the folder
that holds the profiles (``certs/trust/<profile>/*.pem``). Either import works."""

from certs.profiles import (
    PINNED_SHA256,
    PROFILES,
    TrustProfile,
    check_pinned,
    load_pem_bundle,
    load_profile,
    profile_names,
    split_anchors,
)

__all__ = [
    "PINNED_SHA256",
    "PROFILES",
    "TrustProfile",
    "check_pinned",
    "load_pem_bundle",
    "load_profile",
    "profile_names",
    "split_anchors",
]
