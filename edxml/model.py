"""The edXML packet model: frozen values for document and status packets.

Text is kept exactly as sent (``str``), absent elements are ``None`` (or an empty
tuple for repeated ones): the model is a faithful reading, and judging content
(dates, lengths, organization codes) is :mod:`edxml.checks`' job. Only what the
router branches on is typed: :class:`BusinessType` and :class:`StatusCode`.

Blocks whose fields are all optional (``Code``, ``PromulgationInfo``,
``DocumentType``, ...) are always present on the model with ``None`` fields when the
packet omits them, so consumers never test the block before the field; the builder
leaves an all-empty block out.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import Any, Final, Literal

from axis_errors import PacketError
from edxml.b64 import decode_strict, encode_text

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_UNZIPPED",
    "NS",
    "AttachedFile",
    "Attachment",
    "Business",
    "BusinessDocumentInfo",
    "BusinessType",
    "Code",
    "DocumentPacket",
    "DocumentType",
    "MessageHeader",
    "Organization",
    "OtherInfo",
    "Packet",
    "PromulgationInfo",
    "Receiver",
    "Reference",
    "ReplacementInfo",
    "ResponseFor",
    "SignatureKind",
    "SignerInfo",
    "StaffInfo",
    "StatusCode",
    "StatusPacket",
    "TraceHeader",
]

#: The namespace of every edXML element (QCVN 102:2016).
NS: Final = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

#: Cap on the decompressed size of all files inside one zipped attachment.
DEFAULT_MAX_UNZIPPED: Final = 256 * 1024 * 1024
#: Cap on the number of files inside one zipped attachment.
DEFAULT_MAX_FILES: Final = 1000

#: What signature the packet's header carries: none, the legacy edXML-namespace
#: ``Signature`` real producers write (never verifiable), or an XMLDSig one.
SignatureKind = Literal["none", "edxml-legacy", "xmldsig"]


class BusinessType(IntEnum):
    """``BussinessDocType``: what a document packet does."""

    NEW = 0
    REVOKE = 1
    UPDATE = 2
    REPLACE = 3


class StatusCode(StrEnum):
    """``StatusCode`` of a status packet, keeping the two-digit wire text."""

    INBOX = "01"  # arrived, not yet handled by the clerk
    REJECTED = "02"  # refused by the recipient's clerk
    ACCEPTED = "03"  # accepted and registered as incoming
    ASSIGNED = "04"  # assigned by a leader for handling
    PROCESSING = "05"
    FINISHED = "06"
    CANCELLATION = "13"  # the sender asks to take the document back
    CHANGE_ACCEPTED = "15"  # the recipient agrees to the update or take-back
    CHANGE_REJECTED = "16"  # the recipient refuses the update or take-back

    @property
    def sent_by_sender(self) -> bool:
        """True for codes the document's sender emits (13); others come from recipients."""
        return self is StatusCode.CANCELLATION


def _is_empty(value: Any) -> bool:
    """True for a block value with nothing in it (all fields None or empty)."""
    return all(getattr(value, f.name) in (None, ()) for f in fields(value))


# ------------------------------------------------------------------ header blocks


@dataclass(frozen=True)
class Organization:
    """``From`` or ``To``."""

    organ_id: str
    organization_in_charge: str | None = None
    organ_name: str | None = None
    organ_add: str | None = None
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Code:
    """The document's number and notation (số / ký hiệu)."""

    code_number: str | None = None
    code_notation: str | None = None

    @property
    def is_empty(self) -> bool:
        return _is_empty(self)


@dataclass(frozen=True)
class PromulgationInfo:
    place: str | None = None
    promulgation_date: str | None = None  # yyyy/MM/dd on the wire

    @property
    def is_empty(self) -> bool:
        return _is_empty(self)


@dataclass(frozen=True)
class DocumentType:
    type: str | None = None  # "1" or "2"
    type_detail: str | None = None
    type_name: str | None = None

    @property
    def is_empty(self) -> bool:
        return _is_empty(self)


@dataclass(frozen=True)
class SignerInfo:
    competence: str | None = None
    position: str | None = None
    full_name: str | None = None

    @property
    def is_empty(self) -> bool:
        return _is_empty(self)


@dataclass(frozen=True)
class OtherInfo:
    priority: str | None = None  # 0-4 on the wire
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: str | None = None
    page_amount: str | None = None
    direction: str | None = None
    appendixes: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return _is_empty(self)


@dataclass(frozen=True)
class ResponseFor:
    """The document a packet answers (revoke target, or a status's subject)."""

    organ_id: str | None = None
    code: str | None = None
    promulgation_date: str | None = None
    document_id: str | None = None


@dataclass(frozen=True)
class MessageHeader:
    """A document packet's ``MessageHeader``."""

    from_: Organization
    to: tuple[Organization, ...]
    document_id: str
    code: Code = field(default_factory=Code)
    promulgation_info: PromulgationInfo = field(default_factory=PromulgationInfo)
    document_type: DocumentType = field(default_factory=DocumentType)
    subject: str | None = None
    content: str | None = None
    signer_info: SignerInfo = field(default_factory=SignerInfo)
    due_date: str | None = None
    other_info: OtherInfo = field(default_factory=OtherInfo)
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: str | None = None  # 0 none, 1 steering, 2 steering with report
    to_places: tuple[str, ...] = ()


# ------------------------------------------------------------------- trace blocks


@dataclass(frozen=True)
class TraceHeader:
    """One hop: who handled the packet and when (``yyyy/MM/dd HH:mm:ss``)."""

    organ_id: str
    timestamp: str | None = None


@dataclass(frozen=True)
class StaffInfo:
    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Receiver:
    organ_id: str
    receiver_type: str | None = None


@dataclass(frozen=True)
class BusinessDocumentInfo:
    """What an update (business type 2) changes and for whom."""

    document_info: str | None = None
    document_receiver: str | None = None
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True)
class ReplacementInfo:
    """A document replaced (business type 3) and the agencies that had it."""

    document_id: str | None = None
    organ_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Business:
    """The ``Bussiness`` block (wire spelling) of ``TraceHeaderList``."""

    business_doc_type: BusinessType
    document_id: str | None = None
    business_doc_reason: str | None = None
    paper: str | None = None  # 0/1: a paper copy also goes out
    document_info: BusinessDocumentInfo | None = None
    replacement_info: tuple[ReplacementInfo, ...] = ()
    staff_info: StaffInfo | None = None


# ------------------------------------------------------------------ body, attachments


@dataclass(frozen=True)
class Reference:
    """A manifest entry (``edXMLManifest/Reference``)."""

    content_id: str
    content_type: str | None = None
    description: str | None = None
    attachment_name: str | None = None


@dataclass(frozen=True)
class AttachedFile:
    """A file carried by an attachment (the attachment itself, or a ZIP member)."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Attachment:
    """An ``AttachmentEncoded/Attachment``; the payload stays base64 until asked."""

    content_id: str
    content_base64: str
    attachment_name: str | None = None
    description: str | None = None
    content_type: str | None = None

    @classmethod
    def from_bytes(
        cls,
        content_id: str,
        data: bytes,
        *,
        attachment_name: str | None = None,
        description: str | None = None,
        content_type: str | None = None,
    ) -> Attachment:
        """An attachment carrying ``data`` (base64, no line breaks)."""
        return cls(
            content_id=content_id,
            content_base64=encode_text(data),
            attachment_name=attachment_name,
            description=description,
            content_type=content_type,
        )

    def decode(self) -> bytes:
        """The payload's bytes. Whitespace (line wrapping) is ignored; any other
        character outside base64 is refused (``attachment.bad-base64``)."""
        text = self.content_base64
        try:
            try:
                return decode_strict(text)
            except ValueError:  # line-wrapped, perhaps: without the whitespace, again
                return decode_strict("".join(text.split()))
        except ValueError:
            raise PacketError(
                f"The attachment {self.content_id!r} is not valid base64.",
                code="attachment.bad-base64",
                details={"content_id": self.content_id},
            ) from None

    def is_zip(self, data: bytes | None = None) -> bool:
        """True when the payload is a ZIP archive, whatever its label says."""
        payload = self.decode() if data is None else data
        return payload[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def files(
        self,
        *,
        max_unzipped: int = DEFAULT_MAX_UNZIPPED,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> tuple[AttachedFile, ...]:
        """The files this attachment carries.

        A ZIP (detected by its magic bytes: real packets label ZIPs both
        ``application/zip`` and ``application/pdf``) yields its members, read with a
        running cap on the decompressed total (the headers' sizes are not trusted),
        so a zip bomb stops at ``max_unzipped`` bytes (``attachment.too-large``).
        Anything else is one file named after ``AttachmentName``.
        """
        data = self.decode()
        if not self.is_zip(data):
            return (AttachedFile(self.attachment_name or self.content_id, data),)
        return tuple(self._unzip(data, max_unzipped=max_unzipped, max_files=max_files))

    def _unzip(self, data: bytes, *, max_unzipped: int, max_files: int) -> Iterator[AttachedFile]:
        def refuse(message: str, code: str) -> PacketError:
            return PacketError(message, code=code, details={"content_id": self.content_id})

        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise refuse(
                f"The attachment {self.content_id!r} looks like a ZIP but cannot be read: {exc}.",
                "attachment.bad-zip",
            ) from None
        with archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) > max_files:
                raise refuse(
                    f"The attachment {self.content_id!r} holds {len(members)} files, more "
                    f"than the limit of {max_files}.",
                    "attachment.too-many-files",
                )
            total = 0
            for info in members:
                chunks: list[bytes] = []
                try:
                    with archive.open(info) as member:
                        while chunk := member.read(1024 * 1024):
                            total += len(chunk)
                            if total > max_unzipped:
                                raise refuse(
                                    f"The attachment {self.content_id!r} unpacks to more than "
                                    f"{max_unzipped} bytes; it was not unpacked further.",
                                    "attachment.too-large",
                                )
                            chunks.append(chunk)
                except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                    raise refuse(
                        f"The member {info.filename!r} of attachment {self.content_id!r} "
                        f"cannot be unpacked: {exc}.",
                        "attachment.bad-zip",
                    ) from None
                yield AttachedFile(info.filename, b"".join(chunks))


# ------------------------------------------------------------------------ packets


@dataclass(frozen=True)
class DocumentPacket:
    """A document packet: header, trace, manifest and attachments."""

    header: MessageHeader
    trace_headers: tuple[TraceHeader, ...]
    business: Business
    references: tuple[Reference, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    signature: SignatureKind = "none"

    kind: Literal["document"] = field(default="document", init=False, repr=False)

    @property
    def sender(self) -> str:
        """``From/OrganId`` as sent."""
        return self.header.from_.organ_id

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every ``To/OrganId``, in packet order (duplicates kept: checks flag them)."""
        return tuple(org.organ_id for org in self.header.to)

    @property
    def business_type(self) -> BusinessType:
        return self.business.business_doc_type

    @property
    def document_id(self) -> str:
        """``MessageHeader/DocumentId``."""
        return self.header.document_id

    @property
    def subject(self) -> str | None:
        return self.header.subject

    @property
    def code(self) -> Code:
        return self.header.code

    @property
    def response_for(self) -> tuple[ResponseFor, ...]:
        return self.header.response_for


@dataclass(frozen=True)
class StatusPacket:
    """A status packet: one block (``MessageHeader`` or ``Status``) in the header."""

    from_: Organization
    response_for: ResponseFor
    status_code: StatusCode
    staff_info: StaffInfo | None = None
    description: str | None = None
    timestamp: str | None = None  # yyyy/MM/dd HH:mm:ss
    block_name: Literal["MessageHeader", "Status"] = "MessageHeader"
    signature: SignatureKind = "none"

    kind: Literal["status"] = field(default="status", init=False, repr=False)

    @property
    def sender(self) -> str:
        """``From/OrganId`` as sent."""
        return self.from_.organ_id

    @property
    def addressed_to(self) -> str:
        """``ResponseFor/OrganId``: the party this status goes to ("" when absent)."""
        return self.response_for.organ_id or ""

    @property
    def document_id(self) -> str:
        """``ResponseFor/DocumentId``: the document this status is about."""
        return self.response_for.document_id or ""


Packet = DocumentPacket | StatusPacket
