"""Templates, birth dates and CSV records: the pure rules of the address book and campaigns."""

from __future__ import annotations

import pytest

from martinet.domain.contacts import ContactError, TemplateError, parse_birth_date, parse_template, template_values
from martinet.domain.csv_records import CsvError, CsvRecords, read_all, sniff_separator

pytestmark = pytest.mark.unit


def test_templates_render_fields_and_escapes() -> None:
    template = parse_template("Bonjour {Prenom} {nom}, {{code}} = {code} }}{{")
    values = template_values("33612345678", "Durand", "Zoé", "ACME", "1990-05-17", "", {"code": "A1"})
    assert template.render(values) == "Bonjour Zoé Durand, {code} = A1 }{"
    assert template.render({}) == "Bonjour  , {code} =  }{"
    assert parse_template("{date} {mobile}").render(values) == "17/05/1990 33612345678"
    assert not parse_template("no {{field}} here").personal
    for broken in ("a { b", "a } b", "a {} b", "{a{b}"):
        with pytest.raises(TemplateError):
            parse_template(broken)


def test_birth_dates_in_the_forms_people_write_them() -> None:
    assert parse_birth_date("17051990") == parse_birth_date("17/05/1990") == parse_birth_date("1990-05-17")
    assert parse_birth_date("7.5.1990") == "1990-05-07"
    assert parse_birth_date("  ") is None
    with pytest.raises(ContactError):
        parse_birth_date("31022020")
    with pytest.raises(ContactError):
        parse_birth_date("demain")


def test_csv_records_arrive_in_any_chunks_with_their_row_numbers() -> None:
    data = '\ufeffnumero;message\n"061";"deux\nlignes ; ""citées"""\n\n062;été\r\n063;fin'.encode()
    expected = [
        (1, ["numero", "message"]),
        (2, ["061", 'deux\nlignes ; "citées"']),
        (4, ["062", "été"]),
        (5, ["063", "fin"]),
    ]
    for size in (1, 2, 3, 7, 64):
        assert list(read_all(data, size)) == expected
    # Without a byte-order mark, each row is UTF-8 when valid and ISO-8859-15 when not.
    mixed = b"a,b\n" + "é,€\n".encode("iso-8859-15") + "é,€\n".encode()
    assert [r for _, r in read_all(mixed)] == [["a", "b"], ["é", "€"], ["é", "€"]]


def test_csv_errors_name_the_row_and_memory_is_bounded() -> None:
    with pytest.raises(CsvError) as unclosed:
        list(read_all(b'a;b\n1;"open\n2;3\n'))
    assert unclosed.value.line == 2
    with pytest.raises(CsvError) as garbage:
        list(read_all(b'a;b\n1;2\n"x"y;3\n'))
    assert garbage.value.line == 3
    reader = CsvRecords(max_record_bytes=100)
    with pytest.raises(CsvError):
        reader.feed(b"a;b\n" + b"x" * 200)  # no line end in sight: refused before it grows further


def test_the_separator_is_the_headers() -> None:
    assert sniff_separator('"numero";"message, avec virgule";"emetteur"') == ";"
    assert sniff_separator("numero,message,emetteur") == ","
    assert sniff_separator("numero\tmessage") == "\t"
    assert sniff_separator("numero") == ","
