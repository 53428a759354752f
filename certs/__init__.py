"""Certificate tooling: the development PKI generator and the shipped trust profiles."""
