"""Range holders matched to networks of the MCC/MNC data set (mcc-mnc-p1), behind the hand-kept table."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from martinet.domain.networks import NetworkDataset, NetworkEntry, load_network_dataset, parse_network_dataset
from martinet.domain.routing import OperatorLookup, load_default_operator_table

pytestmark = pytest.mark.unit


def test_matching_prefers_the_same_name_then_an_operating_network_then_the_lowest_code() -> None:
    dataset = NetworkDataset(
        {
            "FR": [
                NetworkEntry("20809", "SFR", "Société française du radiotéléphone", False),
                NetworkEntry("20810", "SFR", "Société française du radiotéléphone", True),
                NetworkEntry("20801", "Orange", "Orange S.A.", True),
                NetworkEntry("20815", "Free", "Free Mobile", True),
            ]
        }
    )
    assert dataset.match("FR", "SFR") == NetworkEntry("20810", "SFR", "Société française du radiotéléphone", True)
    assert dataset.match("FR", "Orange France") is not None and dataset.match("FR", "Orange France").mccmnc == "20801"  # type: ignore[union-attr]
    assert dataset.match("FR", "Free Mobile").mccmnc == "20815"  # type: ignore[union-attr]
    assert dataset.match("FR", "Lycamobile") is None
    assert dataset.match("BE", "SFR") is None  # only networks of the number's own country
    assert dataset.codes_named("sfr") == {"20809", "20810"}


def test_the_data_set_file_is_read_leniently() -> None:
    data = [
        {"license": "x"},
        {
            "20801": {"brand": "Orange", "operator": "Orange S.A.", "cc2s": ["FR"], "ope": True},
            "23403": [
                {"brand": "Airtel-Vodafone", "operator": "Jersey Airtel", "cc2s": ["JE"], "ope": True},
                {"brand": "Airtel-Vodafone", "operator": "Guernsey Airtel", "cc2s": ["GG"], "ope": True},
            ],
            "00101": {"brand": "TEST", "operator": "Test", "cc2s": [], "ope": True},
            "bad": {"brand": "x", "cc2s": ["FR"]},
        },
    ]
    dataset = parse_network_dataset(data)
    assert dataset.countries() == {"FR", "JE", "GG"}


dataset = load_network_dataset()
needs_dataset = pytest.mark.skipif(
    dataset is None, reason="mcc-mnc-p1 is not installed (pip install martinet[operators])"
)


@needs_dataset
def test_most_example_mobiles_of_the_world_get_a_network_code() -> None:
    lookup = OperatorLookup(load_default_operator_table(), dataset=dataset)
    named = coded = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is None:
            continue
        operator = lookup.operator(phonenumbers.format_number(example, PhoneNumberFormat.E164)[1:])
        named += operator.name is not None
        coded += operator.mccmnc is not None
    assert named > 200
    assert coded >= 0.75 * named  # every country's code for most range holders, where there was a few countries'


@needs_dataset
def test_the_hand_kept_table_wins_and_the_data_set_fills_the_rest() -> None:
    lookup = OperatorLookup.default()
    assert lookup.operator("33612345678").mccmnc == "20810"  # SFR from operators.toml (the data set would say 20808)
    assert lookup.operator("2348031234567").mccmnc == "62130"  # MTN Nigeria, from the data set
    assert lookup.operator("262692123456").mccmnc == "64710"  # SFR Réunion
    assert "62130" in lookup.codes_named("MTN")  # routes may name a network of any country
