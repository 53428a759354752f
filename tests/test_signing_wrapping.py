"""Signature wrapping and profile-deviation defences of signing.verify.

Each attack is built so that the signature is *cryptographically correct* for the
structure the attacker chose (``resign`` plays a generic XMLDSig signer), except where
the attack is to reuse a genuine signature. The verifier must refuse the structure
itself: ``invalid`` with a reason, ``signed_root`` None. Where an attack yields a valid
verdict instead, the test says why that verdict cannot mislead.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from certs.pki import PrivateKey
from signing.policy import Outcome
from signing.sign import sign_packet
from signing.xmldsig import DS, DS_NS
from tests._signing_support import (
    ED,
    NS,
    check,
    header_of,
    load_sample,
    resign,
    signature_of,
    signing_pki,
    text_of,
)

TO_ID = "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:To/ed:OrganId"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"


@pytest.fixture(scope="module")
def genuine(samples_dir: Path) -> bytes:
    """edoc_update.edxml, signed by 000.00.00.H41 through the real signer."""
    p = signing_pki()
    data = load_sample(samples_dir, "edoc_update.edxml")
    out = sign_packet(data, p.rsa.key, p.rsa.cert, chain=(p.issuing.cert,))
    assert check(out).outcome is Outcome.VALID
    return out


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def assert_invalid(data: bytes, reason: str) -> None:
    verdict = check(data)
    assert verdict.outcome is Outcome.INVALID, verdict.reasons
    assert verdict.signed_root is None and verdict.signer is None
    assert reason in " ".join(verdict.reasons), verdict.reasons


def ds(tag: str, **attrs: str) -> etree._Element:
    return etree.Element(DS + tag, attrs, nsmap={"ds": DS_NS})


def key() -> PrivateKey:
    return signing_pki().rsa.key


# ---------------------------------------------------------------- where the signature is


def test_a_second_signature(genuine: bytes) -> None:
    root = tree(genuine)
    root.append(copy.deepcopy(signature_of(root)))
    assert_invalid(etree.tostring(root), "2 ds:Signature elements")


def test_a_second_signature_in_the_header(genuine: bytes) -> None:
    root = tree(genuine)
    header = header_of(root)
    header.insert(0, copy.deepcopy(header[-1]))
    assert_invalid(etree.tostring(root), "2 ds:Signature elements")


def test_signed_packet_wrapped_in_a_new_root(genuine: bytes) -> None:
    evil = etree.Element("evil")
    evil.append(tree(genuine))
    assert_invalid(etree.tostring(evil), "not an edXML packet")


def test_signed_packet_moved_under_a_new_edxml_with_another_recipient(genuine: bytes) -> None:
    """The attacker writes a new packet to 000.00.00.G99, copies the genuine signature
    into its header (the expected place) and hides the genuine packet inside an
    attachment. The Reference covers the whole *new* document: digest mismatch."""
    outer = tree(genuine)
    inner = tree(genuine)
    to = outer.find(TO_ID, NS)
    assert to is not None
    to.text = "000.00.00.G99"
    attachment = outer.find("ed:AttachmentEncoded/ed:Attachment", NS)
    assert attachment is not None
    inner_sig = signature_of(inner)
    inner_sig.getparent().remove(inner_sig)  # type: ignore[union-attr]
    attachment.append(inner)
    assert_invalid(etree.tostring(outer), "DigestValue does not match")


def test_signature_moved_to_the_envelope(genuine: bytes) -> None:
    root = tree(genuine)
    sig = signature_of(root)
    envelope = root.find("ed:edXMLEnvelope", NS)
    assert envelope is not None
    envelope.append(sig)
    assert_invalid(resign(root, key()), "not a child of edXML/edXMLEnvelope/edXMLHeader")


def test_signature_moved_to_the_root(genuine: bytes) -> None:
    root = tree(genuine)
    root.append(signature_of(root))
    assert_invalid(resign(root, key()), "not a child")


def test_signature_not_last_in_the_header(genuine: bytes) -> None:
    root = tree(genuine)
    header = header_of(root)
    sig = header[-1]
    header.insert(0, sig)  # now the first child
    assert_invalid(resign(root, key()), "not the last child element")


def test_element_added_after_the_signature(genuine: bytes) -> None:
    root = tree(genuine)
    etree.SubElement(header_of(root), ED + "Note").text = "unsigned"
    assert_invalid(resign(root, key()), "not the last child element")


def test_a_header_twice(genuine: bytes) -> None:
    root = tree(genuine)
    envelope = root.find("ed:edXMLEnvelope", NS)
    assert envelope is not None
    fake = copy.deepcopy(header_of(root))
    fake.remove(fake[-1])
    envelope.insert(0, fake)
    assert_invalid(resign(root, key()), "not an edXML packet")


# ----------------------------------------------------------------------- what is signed


def test_reference_to_an_id(genuine: bytes) -> None:
    """A generic verifier accepts a signature over ``#x``: only the element x is
    signed, and the recipient next to it is not. The profile refuses it."""
    root = tree(genuine)
    header = header_of(root)
    header[0].set("Id", "x")
    ref = signature_of(root).find(".//ds:Reference", NS)
    assert ref is not None
    ref.set("URI", "#x")
    assert_invalid(resign(root, key()), 'requires URI=""')


def test_reference_without_uri(genuine: bytes) -> None:
    root = tree(genuine)
    ref = signature_of(root).find(".//ds:Reference", NS)
    assert ref is not None
    del ref.attrib["URI"]
    assert_invalid(resign(root, key()), "no URI")


def test_two_references(genuine: bytes) -> None:
    root = tree(genuine)
    si = signature_of(root).find("ds:SignedInfo", NS)
    assert si is not None
    si.append(copy.deepcopy(si[-1]))
    assert_invalid(resign(root, key()), "must hold ds:CanonicalizationMethod")


def test_an_xpath_transform(genuine: bytes) -> None:
    root = tree(genuine)
    transforms = signature_of(root).find(".//ds:Transforms", NS)
    assert transforms is not None
    xpath = ds("Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116")
    etree.SubElement(xpath, DS + "XPath").text = "not(ancestor-or-self::*[local-name()='To'])"
    transforms.insert(1, xpath)
    assert_invalid(etree.tostring(root), "transform")


def test_without_the_enveloped_transform(genuine: bytes) -> None:
    root = tree(genuine)
    transforms = signature_of(root).find(".//ds:Transforms", NS)
    assert transforms is not None
    transforms.remove(transforms[0])
    assert_invalid(etree.tostring(root), "enveloped-signature")


def test_an_object_in_the_signature(genuine: bytes) -> None:
    root = tree(genuine)
    obj = etree.SubElement(signature_of(root), DS + "Object")
    obj.text = "anything"
    assert_invalid(etree.tostring(root), "ds:Object")


def test_hmac_output_length(genuine: bytes) -> None:
    root = tree(genuine)
    sm = signature_of(root).find(".//ds:SignatureMethod", NS)
    assert sm is not None
    etree.SubElement(sm, DS + "HMACOutputLength").text = "8"
    assert_invalid(etree.tostring(root), "must not hold parameters")


def test_key_value_instead_of_certificate(genuine: bytes) -> None:
    root = tree(genuine)
    key_info = signature_of(root).find("ds:KeyInfo", NS)
    assert key_info is not None
    key_info.insert(0, ds("KeyValue"))
    assert_invalid(etree.tostring(root), "only from the certificate")


def test_keyinfo_without_certificate(genuine: bytes) -> None:
    root = tree(genuine)
    data = signature_of(root).find("ds:KeyInfo/ds:X509Data", NS)
    assert data is not None
    for cert in list(data):
        data.remove(cert)
    etree.SubElement(data, DS + "X509SubjectName").text = "CN=someone"
    assert_invalid(etree.tostring(root), "no ds:X509Certificate")


def test_no_keyinfo(genuine: bytes) -> None:
    root = tree(genuine)
    sig = signature_of(root)
    sig.remove(sig[-1])
    assert_invalid(etree.tostring(root), "must hold ds:SignedInfo, ds:SignatureValue, ds:KeyInfo")


def test_unknown_canonicalization(genuine: bytes) -> None:
    root = tree(genuine)
    cm = signature_of(root).find(".//ds:CanonicalizationMethod", NS)
    assert cm is not None
    cm.set("Algorithm", "http://www.w3.org/2010/xml-c14n2")
    assert_invalid(etree.tostring(root), "not supported")


def test_hollow_signature_in_the_xmldsig_namespace(genuine: bytes) -> None:
    root = tree(genuine)
    sig = signature_of(root)
    for child in list(sig):
        sig.remove(child)
    assert_invalid(etree.tostring(root), "must hold")


def test_root_that_is_not_edxml_with_a_signature_in_the_right_shape(genuine: bytes) -> None:
    root = tree(genuine)
    root.tag = "{urn:evil}edXML"
    assert_invalid(resign(root, key()), "not an edXML packet")


# --------------------------------------------------------- valid, and cannot mislead


def test_comment_in_signed_text_is_valid_and_cannot_split_the_text(genuine: bytes) -> None:
    """Valid: comments are outside what ``URI=""`` signs, so adding one changes nothing
    signed. It cannot mislead, because ``signed_root`` has comments removed: the
    recipient reads the signed OrganId, not the part before the comment."""
    root = tree(genuine)
    to = root.find(TO_ID, NS)
    assert to is not None and to.text
    signed_to = to.text
    to.text = signed_to[:4]
    to.append(etree.Comment("000.00.00.G99"))
    to[-1].tail = signed_to[4:]
    verdict = check(etree.tostring(root))
    assert verdict.outcome is Outcome.VALID
    assert verdict.signed_root is not None
    assert text_of(verdict.signed_root, TO_ID) == signed_to


def test_whitespace_between_signature_parts_is_harmless(genuine: bytes) -> None:
    """Valid: whitespace inside ds:Signature but outside SignedInfo is not signed and
    carries no meaning; signed_root does not contain the signature at all."""
    root = tree(genuine)
    sig = signature_of(root)
    sig[0].tail = "\n\n\t  "
    verdict = check(etree.tostring(root))
    assert verdict.outcome is Outcome.VALID
    assert verdict.signed_root is not None
    assert verdict.signed_root.find(".//ds:Signature", NS) is None


def test_text_smuggled_into_the_signature_is_refused(genuine: bytes) -> None:
    root = tree(genuine)
    signature_of(root)[0].tail = "000.00.00.G99"
    assert_invalid(etree.tostring(root), "unexpected text")
