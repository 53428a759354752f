"""Benchmark: verifying signed edXML packets.

Builds a development PKI in a temporary directory (``certs.devpki.init_dev_pki``),
signs synthetic document packets whose attachment is 10 KB, 100 KB, 1 MB and 10 MB, and
prints per-packet verify times (median of N runs):

* ``ours``: :func:`signing.verify.verify_packet` with a warm :class:`PathCache`;
* ``signxml``: ``XMLVerifier().verify`` with the certificate given out of band (so it
  does *less* than ours: no path validation);
* ``floor``: what any verifier must do, measured in the same run: one lxml parse, one
  C14N of the document streamed into SHA-256, one RSA signature check;
* ``floor/ours``: the target is >= 0.75 at 100 KB and above.

Run: ``.venv/bin/python -m bench.bench_verify`` (or ``python -m bench verify``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml.verifier import SignatureConfiguration, XMLVerifier

from certs.devpki import init_dev_pki
from edxml.safe import HUGE_TEXT_THRESHOLD
from signing.certpath import PathCache
from signing.policy import DEFAULT_POLICY, Outcome
from signing.sign import sign_packet
from signing.trust import RevocationData, TrustStore
from signing.verify import verify_packet
from signing.xmldsig import C14N_ALGORITHMS, C14N_EXC, DS, canonicalize_in_context

SIZES = ((10_000, "10 KB", 300), (100_000, "100 KB", 300), (1_000_000, "1 MB", 40),
         (10_000_000, "10 MB", 7))  # fmt: skip

_PACKET = """<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From><edXML:OrganId>000.00.00.H36</edXML:OrganId>
          <edXML:OrganName>UBND tỉnh Lâm Đồng</edXML:OrganName></edXML:From>
        <edXML:To><edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName></edXML:To>
        <edXML:DocumentId>000.00.00.H36,2026/03/02,1234/UBND-VP</edXML:DocumentId>
        <edXML:Code><edXML:CodeNumber>1234</edXML:CodeNumber>
          <edXML:CodeNotation>UBND-VP</edXML:CodeNotation></edXML:Code>
        <edXML:PromulgationInfo><edXML:Place>Đà Lạt</edXML:Place>
          <edXML:PromulgationDate>2026/03/02</edXML:PromulgationDate></edXML:PromulgationInfo>
        <edXML:DocumentType><edXML:Type>1</edXML:Type><edXML:TypeDetail>0</edXML:TypeDetail>
          <edXML:TypeName>Công văn</edXML:TypeName></edXML:DocumentType>
        <edXML:Subject>Về việc báo cáo tình hình trao đổi văn bản điện tử</edXML:Subject>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader><edXML:OrganId>000.00.00.H36</edXML:OrganId>
          <edXML:Timestamp>2026/03/02 08:00:00</edXML:Timestamp></edXML:TraceHeader>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody><edXML:edXMLManifest version="1.0"><edXML:Reference>
      <edXML:ContentId>cid:1</edXML:ContentId><edXML:ContentType>application/pdf</edXML:ContentType>
      <edXML:AttachmentName>vanban.pdf</edXML:AttachmentName>
    </edXML:Reference></edXML:edXMLManifest></edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded><Attachment><ContentId>cid:1</ContentId>
    <AttachmentName>vanban.pdf</AttachmentName><ContentType>application/pdf</ContentType>
    <edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">{b64}</edXML:ContentTransferEncoded>
  </Attachment></AttachmentEncoded>
</edXML>
"""


def _packet(attachment_bytes: int) -> bytes:
    b64 = base64.b64encode(os.urandom(attachment_bytes)).decode("ascii")
    return _PACKET.replace("{b64}", b64).encode("utf-8")


class _Sink:
    __slots__ = ("hash",)

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)


def _medians(fns: Sequence[Callable[[], object]], runs: int) -> list[float]:
    """Median time of each function; the functions take turns in every round, so that
    the load of a shared machine weighs on all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> None:
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="axis-bench-pki-") as tmp:
        dev = init_dev_pki(Path(tmp), now=now)
        signer = dev.issued(dev.agencies[0])
        trust = TrustStore(anchors=(dev.root(),))
    revocation = RevocationData()
    cache = PathCache()
    leaf_key = signer.cert.public_key()
    assert isinstance(leaf_key, rsa.RSAPublicKey)
    sx_config = SignatureConfiguration(verification_time=now)
    normal = etree.XMLParser(resolve_entities=False, no_network=True)
    huge = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    sx_parser = huge  # signxml needs huge_tree for the 10 MB packet

    print(f"signer: {signer.cert.subject.rfc4514_string()} (RSA {leaf_key.key_size})")
    print(f"{'attachment':>10} {'packet':>9} {'runs':>5} {'ours':>12} {'signxml':>12} "
          f"{'floor':>12} {'floor/ours':>10} {'signxml/ours':>12}")  # fmt: skip
    for size, label, runs in SIZES:
        data = sign_packet(_packet(size), signer.key, signer.cert, chain=signer.chain[:-1])

        def ours(data: bytes = data) -> None:
            verdict = verify_packet(
                data,
                policy=DEFAULT_POLICY,
                trust=trust,
                revocation=revocation,
                at=now,
                cache=cache,
            )
            assert verdict.outcome is Outcome.VALID, verdict.reasons

        def with_signxml(data: bytes = data) -> None:
            XMLVerifier().verify(
                data, x509_cert=signer.cert, expect_config=sx_config, parser=sx_parser
            )

        root = etree.fromstring(data, huge)
        sig = root.find(f".//{DS}Signature")
        assert sig is not None
        signed_info = sig.find(f"{DS}SignedInfo")
        value = sig.findtext(f"{DS}SignatureValue")
        assert signed_info is not None and value is not None
        si_octets = canonicalize_in_context(signed_info, C14N_ALGORITHMS[C14N_EXC], None)
        sig_value = base64.b64decode(value)
        parser = huge if len(data) > HUGE_TEXT_THRESHOLD else normal

        def floor(
            data: bytes = data,
            parser: etree.XMLParser = parser,
            sig_value: bytes = sig_value,
            si_octets: bytes = si_octets,
        ) -> None:
            # C14N streamed into the hash: the cheapest way lxml offers (cheaper than
            # hashing etree.tostring's result), so the floor is not flattered.
            tree = etree.fromstring(data, parser).getroottree()
            sink = _Sink()
            tree.write(cast("IO[bytes]", sink), method="c14n", exclusive=True, with_comments=False)
            sink.hash.digest()
            leaf_key.verify(sig_value, si_octets, padding.PKCS1v15(), hashes.SHA256())

        t_ours, t_floor = _medians([ours, floor], runs)
        (t_sx,) = _medians([with_signxml], max(3, runs // 2))
        print(
            f"{label:>10} {len(data) / 1e6:8.2f}M {runs:>5} {_fmt(t_ours)} {_fmt(t_sx)} "
            f"{_fmt(t_floor)} {t_floor / t_ours:10.2f} {t_sx / t_ours:12.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
