# mypy: disable-error-code="no-untyped-call"
"""Signed PDFs for the attachment tests, made by pyHanko's own writer and signer with
keys and certificates from :mod:`certs.pki` (no fixture files)."""

from __future__ import annotations

import io

from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from certs.pki import Issued

__all__ = ["blank_pdf", "sign_pdf", "tamper"]


def blank_pdf(text: str = "Axis test") -> bytes:
    """A one-page PDF (A4, one line of text), written by pyHanko."""
    w = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
    )
    safe = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = generic.StreamObject(stream_data=f"BT /F1 14 Tf 72 760 Td ({safe}) Tj ET".encode())
    page = PageObject(
        contents=w.add_object(stream),
        media_box=generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        resources=resources,
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sign_pdf(data: bytes, signer: Issued, *, field: str = "Signature1") -> bytes:
    """``data`` signed (PAdES baseline B, an incremental update) by ``signer``'s key."""
    key = load_private_key_from_pemder_data(signer.key_pem(), passphrase=None)
    cert = next(iter(load_certs_from_pemder_data(signer.cert_pem())))
    chain = list(load_certs_from_pemder_data(signer.chain_pem())) if signer.chain_pem() else []
    simple = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    out = io.BytesIO()
    signers.sign_pdf(
        w,
        signers.PdfSignatureMetadata(field_name=field, subfilter=None),
        signer=simple,
        output=out,
    )
    return out.getvalue()


def tamper(signed: bytes, before: bytes = b"Axis test", after: bytes = b"Axis TEST") -> bytes:
    """The signed PDF with a few bytes of its signed content changed (same length)."""
    assert len(before) == len(after) and before in signed
    return signed.replace(before, after, 1)
