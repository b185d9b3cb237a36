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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_is_read_in_any_chunks(encoding: str) -> None:
    """Excel's "Unicode text": UTF-16 after its byte-order mark (little-endian from Windows), tab-separated,
    CRLF; a character outside the BMP is a surrogate pair, which a chunk may cut anywhere."""
    text = 'mobile\tnom\r\n0612345678\tCafé Éloïse 😀\r\n\r\n0698765432\t"a\tb"\r\n'
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    data = bom + text.encode(encoding)
    expected = [(1, ["mobile", "nom"]), (2, ["0612345678", "Café Éloïse 😀"]), (4, ["0698765432", "a\tb"])]
    for size in (1, 2, 3, 5, 64):
        assert list(read_all(data, size)) == expected, size
    # Cut short inside a character (here the emoji's surrogate pair): the rest is read, the character replaced.
    cut = bom + "mobile\tnom\r\n0612345678\tCafé 😀".encode(encoding)[:-1]
    assert list(read_all(cut, 3))[-1] == (2, ["0612345678", "Café \ufffd"])


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
