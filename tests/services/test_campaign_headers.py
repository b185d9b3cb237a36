"""Campaign file headers as spreadsheets write them (`services.campaign_files`): Excel's trailing separators,
accented and capitalised column names, compared as contact imports compare theirs. The reader needs no store."""

from __future__ import annotations

import pytest

from martinet.services.accept import InvalidParameter
from martinet.services.campaign_files import CampaignFile
from martinet.services.personal_sends import CampaignRow

pytestmark = pytest.mark.unit


def _rows(text: str) -> list[tuple[int, str, str, str | None, str | None]]:
    rows: list[CampaignRow] = []
    reader = CampaignFile(10, rows.append)
    reader.feed(text.encode())
    reader.close()
    return [tuple(r) for r in rows]


def test_trailing_empty_header_cells_are_no_columns() -> None:
    assert _rows("numero;message;emetteur;\n0611111111;Salut;Shop;\n0622222222;Bonjour;;\n0633333333;Hé;Shop\n") == [
        (2, "0611111111", "Salut", "Shop", None),
        (3, "0622222222", "Bonjour", None, None),
        (4, "0633333333", "Hé", "Shop", None),
    ]
    assert _rows("numero,message,,\n0611111111,Salut,,\n") == [(2, "0611111111", "Salut", None, None)]
    for text, problem in [
        ("numero;;message\n", "line 1: unknown column ''"),  # an empty cell inside the header: still no column
        ("numero;texte;\n", "line 1: unknown column 'texte'"),
    ]:
        with pytest.raises(InvalidParameter) as refused:
            _rows(text)
        assert refused.value.problem == problem


def test_column_names_ignore_case_and_accents() -> None:
    header = "\ufeffNuméro;MESSAGE;Émetteur;RefClient\n"
    assert _rows(header + "0611111111;Salut;Shop;r1\n") == [(2, "0611111111", "Salut", "Shop", "r1")]
    assert _rows("numero;message;ref_client\n0611111111;Salut;r1\n") == [(2, "0611111111", "Salut", None, "r1")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # A cell under a trailing empty header cell holds something: a column without a name.
        ("numero;message;\n0611111111;Salut;oops\n", "line 2: 3 fields for 2 columns"),
        ("numero;message;\n0611111111;Salut;;\n", "line 2: 4 fields for 2 columns"),
        ("Numéro;Message;Numero\n", "line 1: column 'Numero' twice"),
    ],
)
def test_cells_beyond_the_named_columns_are_still_refused(text: str, problem: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        _rows(text)
    assert (refused.value.name, refused.value.problem) == ("fichier", problem)
