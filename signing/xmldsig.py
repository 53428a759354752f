"""The edXML XMLDSig profile: names, algorithm tables and the tree operations that the
signer (:mod:`signing.sign`) and the verifier (:mod:`signing.verify`) share.

The profile (ADR 0003):

* one enveloped ``ds:Signature`` (namespace ``http://www.w3.org/2000/09/xmldsig#``),
  the **last child** of ``/edXML/edXMLEnvelope/edXMLHeader``;
* ``SignedInfo`` = CanonicalizationMethod, SignatureMethod, exactly **one** Reference
  with ``URI=""`` whose Transforms are the enveloped-signature transform, optionally
  followed by one canonicalization transform;
* ``KeyInfo/X509Data`` with the signer's certificate first, then intermediates.

Both sides digest the document the same way (:func:`detached` + :func:`document_digest`):
detach the Signature element (its tail text stays where it was), canonicalize the
*document* without comments (``URI=""`` excludes comments, XMLDSig 4.4.3.3) straight
into the hash.
Nothing here reads a file or the clock.
"""

from __future__ import annotations

import copy
import hashlib
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Final, Literal, cast

from cryptography.hazmat.primitives import hashes
from lxml import etree

from signing.policy import (
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
    SIG_ECDSA_SHA1,
    SIG_ECDSA_SHA256,
    SIG_ECDSA_SHA384,
    SIG_ECDSA_SHA512,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_PSS_SHA384,
    SIG_RSA_PSS_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA384,
    SIG_RSA_SHA512,
)

__all__ = [
    "C14N_11",
    "C14N_11_WITH_COMMENTS",
    "C14N_ALGORITHMS",
    "C14N_EXC",
    "C14N_EXC_WITH_COMMENTS",
    "C14N_INCL",
    "C14N_INCL_WITH_COMMENTS",
    "DIGESTS",
    "DS",
    "DS_NS",
    "EC_NS",
    "ED",
    "EDXML_NS",
    "ENVELOPED",
    "SIGNATURE_METHODS",
    "XML_NS",
    "C14nSpec",
    "ProfileViolation",
    "SignatureMethodSpec",
    "canonicalize_in_context",
    "detach",
    "detached",
    "document_digest",
    "find_header",
    "local_name",
]

EDXML_NS: Final = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
EC_NS: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
DS: Final = "{" + DS_NS + "}"
ED: Final = "{" + EDXML_NS + "}"

ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
C14N_INCL: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_INCL_WITH_COMMENTS: Final = C14N_INCL + "#WithComments"
C14N_EXC: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_EXC_WITH_COMMENTS: Final = C14N_EXC + "WithComments"
C14N_11: Final = "http://www.w3.org/2006/12/xml-c14n11"
C14N_11_WITH_COMMENTS: Final = C14N_11 + "#WithComments"


@dataclass(frozen=True)
class C14nSpec:
    """How one canonicalization URI maps onto libxml2's C14N."""

    exclusive: bool
    with_comments: bool
    #: xml:* attributes an inclusive apex inherits from its ancestors (C14N 1.0: all;
    #: C14N 1.1: xml:lang and xml:space; xml:base fix-up is not implemented, so a
    #: SignedInfo under an ancestor with xml:base is refused for 1.1).
    inherited_xml_attrs: Literal["all", "lang-space", "none"]


C14N_ALGORITHMS: Final[dict[str, C14nSpec]] = {
    C14N_INCL: C14nSpec(exclusive=False, with_comments=False, inherited_xml_attrs="all"),
    C14N_INCL_WITH_COMMENTS: C14nSpec(False, True, "all"),
    C14N_EXC: C14nSpec(exclusive=True, with_comments=False, inherited_xml_attrs="none"),
    C14N_EXC_WITH_COMMENTS: C14nSpec(True, True, "none"),
    C14N_11: C14nSpec(exclusive=False, with_comments=False, inherited_xml_attrs="lang-space"),
    C14N_11_WITH_COMMENTS: C14nSpec(False, True, "lang-space"),
}


@dataclass(frozen=True)
class SignatureMethodSpec:
    """The key type, hash and padding behind one SignatureMethod URI."""

    key: Literal["rsa", "rsa-pss", "ec"]
    hash: Callable[[], hashes.HashAlgorithm]


SIGNATURE_METHODS: Final[dict[str, SignatureMethodSpec]] = {
    SIG_RSA_SHA1: SignatureMethodSpec("rsa", hashes.SHA1),
    SIG_RSA_SHA256: SignatureMethodSpec("rsa", hashes.SHA256),
    SIG_RSA_SHA384: SignatureMethodSpec("rsa", hashes.SHA384),
    SIG_RSA_SHA512: SignatureMethodSpec("rsa", hashes.SHA512),
    SIG_RSA_PSS_SHA256: SignatureMethodSpec("rsa-pss", hashes.SHA256),
    SIG_RSA_PSS_SHA384: SignatureMethodSpec("rsa-pss", hashes.SHA384),
    SIG_RSA_PSS_SHA512: SignatureMethodSpec("rsa-pss", hashes.SHA512),
    SIG_ECDSA_SHA1: SignatureMethodSpec("ec", hashes.SHA1),
    SIG_ECDSA_SHA256: SignatureMethodSpec("ec", hashes.SHA256),
    SIG_ECDSA_SHA384: SignatureMethodSpec("ec", hashes.SHA384),
    SIG_ECDSA_SHA512: SignatureMethodSpec("ec", hashes.SHA512),
}

#: DigestMethod URI -> hashlib constructor.
DIGESTS: Final[dict[str, Callable[..., hashlib._Hash]]] = {
    DIGEST_SHA1: hashlib.sha1,
    DIGEST_SHA256: hashlib.sha256,
    DIGEST_SHA384: hashlib.sha384,
    DIGEST_SHA512: hashlib.sha512,
}


def local_name(el: etree._Element) -> str:
    """The local part of an element's tag ('' for comments and other non-elements)."""
    tag: object = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def find_header(root: etree._Element) -> etree._Element | None:
    """``/edXML/edXMLEnvelope/edXMLHeader`` when the root is an edXML packet and each
    step is unique; ``None`` otherwise."""
    if root.tag != ED + "edXML":
        return None
    envelopes = root.findall(ED + "edXMLEnvelope")
    if len(envelopes) != 1:
        return None
    headers = envelopes[0].findall(ED + "edXMLHeader")
    if len(headers) != 1:
        return None
    return headers[0]


class detached:
    """Context manager: take ``el`` out of its parent for the duration of the block,
    leaving its tail text in place (what the enveloped-signature transform does), then
    put it back exactly where it was."""

    def __init__(self, el: etree._Element) -> None:
        parent = el.getparent()
        if parent is None:
            raise ValueError("cannot detach the root element")
        self._el = el
        self._parent = parent
        self._index = parent.index(el)
        self._prev = el.getprevious()
        self._tail = el.tail
        self._saved_text = self._prev.tail if self._prev is not None else parent.text

    def __enter__(self) -> etree._Element:
        detach(self._el)
        return self._parent

    def __exit__(self, *exc: object) -> None:
        if self._prev is not None:
            self._prev.tail = self._saved_text
        else:
            self._parent.text = self._saved_text
        self._parent.insert(self._index, self._el)
        self._el.tail = self._tail


def detach(el: etree._Element) -> None:
    """Remove ``el`` from its parent, keeping its tail text in the parent (lxml's
    ``remove`` would drop it with the element)."""
    parent = el.getparent()
    if parent is None:
        raise ValueError("cannot detach the root element")
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


class _HashSink:
    """A file-like object that hashes what lxml's C14N writer gives it, so that the
    canonical form of a large packet is never held in memory whole."""

    __slots__ = ("hash",)

    def __init__(self, hash_obj: hashlib._Hash) -> None:
        self.hash = hash_obj

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)


#: a text node at least this long is spliced into the digest instead of canonicalized
#: by libxml2 (see :func:`document_digest`)
LONG_TEXT: Final = 4096

#: the characters C14N rewrites in a text node (&amp; &lt; &gt; &#xD;)
_C14N_TEXT_ESCAPES: Final = ("&", "<", ">", "\r")


def _long_texts(root: etree._Element) -> dict[int, str]:
    """The long texts C14N writes unchanged, by their element's place in document order
    (childless elements only: a child of any kind would split the text)."""
    found = {}
    for place, el in enumerate(root.iter(etree.Element)):
        if len(el):
            continue
        text = el.text
        if text is None or len(text) < LONG_TEXT:
            continue
        if any(c in text for c in _C14N_TEXT_ESCAPES):
            continue
        found[place] = text
    return found


def _c14n_write(
    tree: etree._ElementTree,
    out: IO[bytes],
    c14n: C14nSpec,
    inclusive_prefixes: Sequence[str] | None,
) -> None:
    # two calls: lxml's stubs do not let inclusive_ns_prefixes be None
    if inclusive_prefixes:
        tree.write(
            out,
            method="c14n",
            exclusive=c14n.exclusive,
            with_comments=False,
            inclusive_ns_prefixes=list(inclusive_prefixes),
        )
    else:
        tree.write(out, method="c14n", exclusive=c14n.exclusive, with_comments=False)


def document_digest(
    root: etree._Element,
    c14n: C14nSpec,
    inclusive_prefixes: Sequence[str] | None,
    hash_factory: Callable[..., hashlib._Hash],
) -> bytes:
    """Digest of the canonical form (without comments) of ``root``'s whole document, as
    it stands (the caller has detached the signature), streamed into the hash.

    libxml2 canonicalizes text one character at a time: for a packet whose bulk is an
    attachment's base64 that was ~70 % of the digest's time. C14N writes a text node as
    its UTF-8 with only ``& < > CR`` replaced, so a long text with none of them is its
    own canonical form. The document is copied (libxml2 copies nodes, namespaces and
    prefixes as they are, the texts with memcpy), each long text of the copy is replaced
    by a random marker, the copy is canonicalized, and the texts' bytes are hashed where
    the marker comes out. The marker is fresh per call and must come out exactly once
    per text, else the document itself is canonicalized as before. The caller's tree is
    never changed: setting a 96 KB text back would cost lxml ~110 us of character
    checks, and moving elements lets lxml re-bind their namespace to another prefix
    declared for the same URI.
    """
    tree = root.getroottree()
    long_texts = _long_texts(root)
    if long_texts:
        marker = "axis-c14n-" + secrets.token_hex(16)
        skeleton = copy.deepcopy(tree)
        for place, el in enumerate(skeleton.getroot().iter(etree.Element)):
            if place in long_texts:
                el.text = marker
        out = io.BytesIO()
        _c14n_write(skeleton, out, c14n, inclusive_prefixes)
        parts = out.getvalue().split(marker.encode("ascii"))
        if len(parts) == len(long_texts) + 1:
            h = hash_factory()
            h.update(parts[0])
            for text, after in zip(long_texts.values(), parts[1:], strict=True):
                h.update(text.encode("utf-8"))
                h.update(after)
            return h.digest()
    sink = _HashSink(hash_factory())
    # lxml writes to any object with a write() method; the stubs only know real files.
    _c14n_write(tree, cast("IO[bytes]", sink), c14n, inclusive_prefixes)
    return sink.hash.digest()


def canonicalize_in_context(
    el: etree._Element,
    c14n: C14nSpec,
    inclusive_prefixes: Sequence[str] | None,
) -> bytes:
    """Canonicalize the subtree ``el`` (SignedInfo) as it sits in its document.

    lxml already renders the namespaces ``el`` inherits. Inclusive C14N also makes the
    apex inherit the ``xml:*`` attributes of its ancestors; lxml does not, so they are
    set on ``el`` for the call and removed after.
    """
    added: list[str] = []
    if c14n.inherited_xml_attrs != "none":
        for anc in el.iterancestors():
            for key, value in anc.attrib.items():
                name = key if isinstance(key, str) else key.decode()
                if not name.startswith("{" + XML_NS + "}"):
                    continue
                short = name[len(XML_NS) + 2 :]
                if c14n.inherited_xml_attrs == "lang-space" and short not in ("lang", "space"):
                    if short == "base":
                        raise ProfileViolation(
                            "xml:base on an ancestor of SignedInfo is not supported with C14N 1.1"
                        )
                    continue
                if name not in el.attrib and name not in added:
                    el.set(name, value)
                    added.append(name)
    try:
        return etree.tostring(
            el,
            method="c14n",
            exclusive=c14n.exclusive,
            with_comments=c14n.with_comments,
            inclusive_ns_prefixes=list(inclusive_prefixes) if inclusive_prefixes else None,
        )
    finally:
        for name in added:
            del el.attrib[name]


class ProfileViolation(Exception):
    """A construct the edXML signature profile does not cover (the verifier turns it
    into an ``invalid`` verdict with the message as reason)."""
