"""The edXML (QCVN 102:2016) packet model: hardened parsing, reading, building."""
