"""Organization codes: what Decision 20/2020 allows is accepted, the rest refused."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from axis_errors import PacketError
from edxml import organ
from edxml.organ import MAX_LENGTH, OrganId, is_valid_organ_id

letters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
digit_groups = st.text("0123456789", min_size=1, max_size=4)
level1 = st.builds(lambda a, n: f"{a}{n:02d}", letters, st.integers(0, 99))


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    upper = draw(st.lists(digit_groups, min_size=0, max_size=3))
    text = ".".join([*upper, draw(level1)])
    assume(len(text) <= MAX_LENGTH)
    return text


@given(valid_codes())
def test_valid_codes_parse_and_keep_their_text(text: str) -> None:
    organ = OrganId.parse(text)
    assert organ.text == text
    assert str(organ) == text
    assert organ.level1 == text.rsplit(".", maxsplit=1)[-1]
    assert organ.levels[0] == organ.level1
    assert len(organ.padded.split(".")) == 4
    assert organ.padded.endswith(text)
    assert is_valid_organ_id(text)


@given(valid_codes(), st.lists(digit_groups, min_size=1, max_size=3))
def test_more_than_four_groups_are_refused(text: str, extra: list[str]) -> None:
    longer = ".".join([*extra, text])
    assume(len(longer.split(".")) > 4 and len(longer) <= MAX_LENGTH)
    with pytest.raises(PacketError) as info:
        OrganId.parse(longer)
    assert info.value.code == "organ.invalid"
    assert "groups" in info.value.message


@given(st.text(min_size=0, max_size=40))
def test_anything_outside_the_grammar_is_refused(text: str) -> None:
    groups = text.split(".")
    grammatical = (
        0 < len(text) <= MAX_LENGTH
        and len(groups) <= 4
        and len(groups[-1]) == 3
        and "A" <= groups[-1][0] <= "Z"
        and all(c in "0123456789" for c in groups[-1][1:])
        and all(g and all(c in "0123456789" for c in g) for g in groups[:-1])
    )
    assert is_valid_organ_id(text) == grammatical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("000.00.00.g22", "capital"),
        (" 000.00.00.G22", "capital"),
        ("000.00.00.G22 ", "capital"),
        ("000..00.G22", "empty"),
        ("1.2.3.4.H36", "more than 4"),
        ("000.00.00.22G", "letter and two digits"),
        ("000.00.00.G2", "letter and two digits"),
        ("000.0A.00.H36", "digits only"),
        ("0" * 33 + ".H36", "more than 35"),
        ("000.00.00.GĐ2", "capital"),
    ],
)
def test_refusals_name_the_reason(text: str, reason: str) -> None:
    with pytest.raises(PacketError) as info:
        OrganId.parse(text)
    assert info.value.code == "organ.invalid"
    assert reason in info.value.message


def test_real_codes_and_properties() -> None:
    vpcp = OrganId.parse("000.00.00.G22")
    assert vpcp.is_central and vpcp.bloc == "G" and vpcp.province_group is None
    commune = OrganId.parse("000.21.32.H53")
    assert not commune.is_central
    assert commune.province_group == "H53"
    assert commune.groups == ("000", "21", "32", "H53")
    assert commune.levels == ("H53", "32", "21", "000")
    three = OrganId.parse("28.22.H17")  # from the real edoc_new sample
    assert three.padded == "000.28.22.H17"
    assert OrganId.parse("H36").padded == "000.00.00.H36"
    assert OrganId.parse("001.01.07.H53").padded == "001.01.07.H53"


def test_non_text_is_refused() -> None:
    with pytest.raises(PacketError):
        OrganId(123)  # type: ignore[arg-type]


@given(st.text(min_size=0, max_size=40) | valid_codes())
def test_a_code_is_judged_the_same_the_second_time(text: str) -> None:
    """Accepted codes are remembered: a code refused once is refused again, and one
    accepted once is accepted again (and a refused code is never remembered)."""
    first = is_valid_organ_id(text)
    assert is_valid_organ_id(text) == first
    assert (text in organ._ACCEPTED) == first
