"""The edXML (QCVN 102:2016) packet model: hardened parsing, reading, building.

Modules (see docs/adr/0002-edxml-model-package.md):

- ``edxml.safe``: ``parse_xml(data, limits) -> root``, the one hardened parser.
- ``edxml.organ``: ``OrganId`` organization codes (Decision 20/2020).
- ``edxml.model``: frozen ``DocumentPacket`` / ``StatusPacket`` and their blocks.
- ``edxml.reader``: ``read_packet(root)`` and ``load_packet(data)`` (parse+schema+read).
- ``edxml.builder``: ``build_packet(packet) -> bytes``.
- ``edxml.checks``: ``check_packet(packet, today=...) -> list[Problem]``.

Nothing is imported here, so ``import edxml.safe`` stays light for the signer.
"""
