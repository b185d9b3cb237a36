"""A `multipart/form-data` body on the smsmode door: its text fields read as the form they stand for.

The bodies are built by an independent encoder (urllib3's, which requests uses) and by hand where a client's
quirk is the point; `tests/api/test_client_samples.py` posts them from PHP's cURL extension, curl and requests.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3 import encode_multipart_formdata

from martinet.api.legacy.app import MAX_PARAMETERS
from martinet.api.legacy.decoding import split_pairs
from martinet.api.legacy.multipart_form import FORM_TYPE, UnreadableMultipart, as_form_body, is_multipart
from tests.gateway import running_gateway

BOUNDARY = "b0undary-x"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _encoded(fields: list[tuple[str, bytes]]) -> bytes:
    body, _ = encode_multipart_formdata(fields, boundary=BOUNDARY)
    return body


def _pairs(form: bytes) -> list[tuple[bytes, bytes]]:
    return split_pairs(form)  # unescaped already: a value `%00` as written comes back as those three bytes


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters='"\r\n\\'), min_size=1),
            st.binary(max_size=64),
        ),
        max_size=8,
    )
)
def test_every_field_comes_back_byte_for_byte_in_its_order(fields: list[tuple[str, bytes]]) -> None:
    """Whatever bytes a value holds (ISO-8859-15, UTF-8, `&`, `=`, `%`, NUL, CRLF), the form body gives them back."""
    if not fields:
        with pytest.raises(UnreadableMultipart):
            as_form_body(_encoded(fields), CONTENT_TYPE)
        return
    form = as_form_body(_encoded(fields), CONTENT_TYPE)
    assert _pairs(form) == [(name.encode(), value) for name, value in fields]


def test_file_parts_and_parts_of_no_form_are_left_out() -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="numero"\r\n\r\n0612345678\r\n'
        b'--B\r\nContent-Disposition: form-data; name="fichier"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nnumero,message\r\n\r\n"
        b'--B\r\nContent-Disposition: attachment; name="x"\r\n\r\ny\r\n'
        b"--B\r\ncontent-disposition: form-data; name=message\r\n\r\nCaf\xe9\r\n"
        b"--B--\r\n"
    )
    assert as_form_body(body, "Multipart/Form-Data; boundary=B") == b"numero=0612345678&message=Caf%E9"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--B--\r\n', "multipart/form-data"),
        (b"accessToken=abc&numero=0612345678", "multipart/form-data; boundary=B"),
        (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1234', "multipart/form-data; boundary=B"),
        (b"", "multipart/form-data; boundary=B"),
    ],
    ids=["no boundary", "a form body", "cut short", "empty"],
)
def test_a_body_that_is_no_multipart_is_unreadable(body: bytes, content_type: str) -> None:
    with pytest.raises(UnreadableMultipart):
        as_form_body(body, content_type)


def test_only_multipart_form_data_is_rewritten() -> None:
    assert is_multipart("multipart/form-data; boundary=x") and is_multipart("MULTIPART/FORM-DATA;boundary=x")
    assert not is_multipart(FORM_TYPE) and not is_multipart("multipart/mixed; boundary=x")


async def test_the_door_reads_a_multipart_send_as_a_form(database_url: str) -> None:
    """Credentials, parameter names in any case and an ISO-8859-15 text in multipart fields, a declared charset;
    an unreadable multipart body answers `35` naming the body, a wrong token in a field `32`, and neither stores
    anything."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:

        async def post(fields: list[tuple[str, bytes]], content_type: str = CONTENT_TYPE) -> str:
            reply = await http.post("/sendSMS.do", content=_encoded(fields), headers={"content-type": content_type})
            assert reply.status_code == 200 and reply.headers["content-type"] == "text/plain; charset=ISO-8859-15"
            return reply.content.decode("iso-8859-15")

        token = gw.token.encode()
        accepted = await post(
            [("ACCESSTOKEN", token), ("numero", b"0612345678"), ("message", "Café à 5 €".encode("iso-8859-15"))]
        )
        assert accepted.startswith("0 | Accepté | "), accepted
        listed = (await http.get("/smsList.do", params={"accessToken": gw.token})).content.decode("iso-8859-15")
        assert f"{accepted.split(' | ')[2]} | " in listed and " | Café à 5 € | 33612345678 | " in listed

        # A charset the multipart Content-Type names wins over the guess, as a form's does: UTF-8 bytes read as
        # the ISO-8859-15 they are said to be ("Ã©", neither in GSM 03.38: "??"; guessed, they would be "é").
        declared = await post(
            [("accessToken", token), ("numero", b"0612345670"), ("message", "é".encode())],
            CONTENT_TYPE + "; charset=ISO-8859-15",
        )
        assert declared.startswith("0 | Accepté | "), declared
        listed = (await http.get("/smsList.do", params={"accessToken": gw.token})).content.decode("iso-8859-15")
        assert " | ?? | 33612345670 | " in listed

        in_query = await http.post(
            "/sendSMS.do",
            params={"accessToken": gw.token},
            content=_encoded([("numero", b"0612345679")]),
            headers={"content-type": CONTENT_TYPE},
        )
        assert in_query.content.decode("iso-8859-15") == "35 | Paramètre invalide : message (manquant)"

        assert await post([("accessToken", b"wrong"), ("numero", b"0612345678"), ("message", b"x")]) == (
            "32 | Erreur d'authentification"
        )
        unreadable = await post([("accessToken", token)], "multipart/form-data")
        assert unreadable == "35 | Paramètre invalide : body (envoi multipart/form-data illisible)"
        listed_after = (await http.get("/smsList.do", params={"accessToken": gw.token})).content
        assert listed_after.decode("iso-8859-15") == listed
        assert (await http.get("/credit.do", params={"accessToken": gw.token})).text == "998"


async def test_a_multipart_body_has_the_forms_bound_on_parameters(database_url: str) -> None:
    """A thousand fields and more are refused as a form of as many parameters is, before any is decoded."""
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        fields = [("accessToken", gw.token.encode()), *((f"p{i}", b"x") for i in range(MAX_PARAMETERS))]
        reply = await http.post("/sendSMS.do", content=_encoded(fields), headers={"content-type": CONTENT_TYPE})
        assert reply.content.decode("iso-8859-15") == (
            f"35 | Paramètre invalide : body (plus de {MAX_PARAMETERS} paramètres)"
        )
