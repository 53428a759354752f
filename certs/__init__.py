"""Certificate tooling: the development PKI generator and the shipped trust profiles.

* ``certs.pki``: in-memory CA functions (pure; time is an argument).
* ``certs.devpki``: the on-disk development PKI written by ``axis pki init``.
* ``certs.profiles``: named trust profiles (``certs/trust/<name>/*.pem``), pinned by
  SHA-256 fingerprint.
"""
