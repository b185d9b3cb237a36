"""The web console in a real headless Chromium: what an account holder and an operator do, and what they may not.

Waits are on what the page shows (an element appearing, a status cell changing), with generous deadlines, never
on elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from martinet.app import account_service
from tests.console.browser import REPLY_NUMBER, LiveGateway, chromium, require_browser, screenshot

pytestmark = pytest.mark.slow

WAIT = 30  # seconds: a deadline for what the page must come to show, not a measure of speed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    with chromium() as driver:
        yield driver


@pytest.fixture
def live(tmp_path: Path, browser: Any) -> Iterator[LiveGateway]:
    browser.delete_all_cookies()
    with LiveGateway(f"sqlite:///{tmp_path / 'console.db'}") as gateway:
        yield gateway


def _by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def _wait(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _text_of(driver: Any, css: str) -> str:
    """The text of the first element matching `css` ("" if none), read again if htmx replaced it meanwhile (which
    ChromeDriver reports as a stale element, or as "Node … does not belong to the document" when the swap lands
    between finding the node and reading it)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    for _ in range(20):
        elements = driver.find_elements(_by("CSS_SELECTOR"), css)
        try:
            return str(elements[0].text) if elements else ""
        except StaleElementReferenceException:
            continue
        except WebDriverException as exc:
            if "does not belong to the document" not in str(exc):
                raise
    return ""


def _sign_in(driver: Any, base: str, login: str, password: str) -> None:
    driver.get(f"{base}/console/login")
    driver.find_element(_by("NAME"), "login").send_keys(login)
    driver.find_element(_by("NAME"), "password").send_keys(password)
    driver.find_element(_by("CSS_SELECTOR"), "#login-form button[type=submit]").click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "figures"))


def _type_text(driver: Any, text: str) -> None:
    """Replace the send form's text as a person would, and wait for the counter to show that text's count."""
    box = driver.find_element(_by("ID"), "text")
    if all(ord(char) <= 0xFFFF for char in text):
        box.clear()
        box.send_keys(text)
    else:  # chromedriver types only the Basic Multilingual Plane: emoji arrive as a paste would
        driver.execute_script(
            "arguments[0].value = arguments[1];arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            box,
            text,
        )
    expected = str(len(text))
    _wait(driver, lambda d: _text_of(d, "#count-chars") == expected)


def _send(driver: Any, base: str, numbers: str, text: str, reference: str = "") -> str:
    driver.get(f"{base}/console/send")
    driver.find_element(_by("ID"), "recipients").send_keys(numbers)
    if reference:
        driver.find_element(_by("ID"), "reference").send_keys(reference)
    _type_text(driver, text)
    driver.find_element(_by("ID"), "send-button").click()
    _wait(driver, lambda d: "/console/sends/" in d.current_url)
    return str(driver.current_url).rsplit("/", 1)[1].split("?")[0]


def test_account_holder_sends_watches_filters_and_reads_replies(live: LiveGateway, browser: Any) -> None:
    driver, base = browser, live.base
    _sign_in(driver, base, "acme", "secret")

    # The live counter, for a GSM text, a text with € (GSM extension: two septets), an emoji text (Unicode).
    driver.get(f"{base}/console/send")
    driver.find_element(_by("ID"), "recipients").send_keys("0612345678")
    _type_text(driver, "Bonjour, votre colis arrive demain.")
    assert _text_of(driver, "#count-encoding") == "GSM-7"
    assert _text_of(driver, "#count-parts") == "1"
    assert _text_of(driver, "#count-units") == "35"
    assert not driver.find_elements(_by("ID"), "count-foreign")
    _wait(driver, lambda d: "1" in _text_of(d, "#count-price"))  # one recipient at the French price

    _type_text(driver, "Total : 12€")
    assert _text_of(driver, "#count-encoding") == "GSM-7"
    assert _text_of(driver, "#count-units") == "12"  # € costs two septets
    assert not driver.find_elements(_by("ID"), "count-foreign")

    _type_text(driver, "Merci 🎉")
    assert _text_of(driver, "#count-encoding") == "UCS-2"
    assert _text_of(driver, "#count-units") == "8"  # the emoji is two UTF-16 units
    assert _text_of(driver, "#count-foreign") == "🎉"  # highlighted as outside the GSM alphabet
    long_text = "é" * 60 + "😀" * 20  # 100 UTF-16 units: 2 parts of 67
    _type_text(driver, long_text)
    assert _text_of(driver, "#count-parts") == "2"
    screenshot(driver, "send")

    # Send, and watch the recipient's status reach 11 (received) on the page, which refreshes by itself.
    send_id = _send(driver, base, "0612345678", "Votre code est 4821", reference="order-1")
    _wait(driver, lambda d: d.find_elements(_by("CSS_SELECTOR"), 'tr.recipient[data-status="11"]'))
    timeline = _text_of(driver, "ol.timeline")
    assert "13" in timeline and "11" in timeline  # delivered to the operator, then received
    assert "carrier" in _text_of(driver, "small.part")  # the connector and carrier message ID of the part
    screenshot(driver, "send-page")

    # History: a second send with another reference; the filter by reference keeps only the first.
    _send(driver, base, "0698765432", "Rappel : rendez-vous demain", reference="order-2")
    driver.get(f"{base}/console/history")
    _wait(driver, lambda d: len(d.find_elements(_by("CSS_SELECTOR"), "tr.message")) == 2)
    driver.find_element(_by("ID"), "filter-ref").send_keys("order-1")
    driver.find_element(_by("ID"), "filter-button").click()
    _wait(driver, lambda d: "ref=order-1" in d.current_url)
    rows = driver.find_elements(_by("CSS_SELECTOR"), "tr.message")
    assert [row.get_attribute("data-send") for row in rows] == [send_id]
    assert "ref=order-1" in driver.find_element(_by("ID"), "export-csv").get_attribute("href")
    screenshot(driver, "history")

    # A reply from the handset appears in the inbox while it is open.
    driver.get(f"{base}/console/replies")
    assert live.simulator is not None
    simulator = live.simulator
    live.call(lambda: _inject(simulator, "33612345678", REPLY_NUMBER, "Oui, merci"))
    _wait(driver, lambda d: "Oui, merci" in _text_of(d, "#replies-body"))
    screenshot(driver, "replies")

    driver.get(f"{base}/console/")
    _wait(driver, lambda d: _text_of(d, '#counts td[data-window="Today"][data-state="delivered"]') == "2")
    screenshot(driver, "dashboard")
    screenshot(driver, "dashboard-phone", width=390, height=844)


async def _inject(simulator: Any, source: str, destination: str, text: str) -> int:
    return int(simulator.inject_mo(source, destination, text))


def test_other_accounts_send_and_forged_forms_are_refused(live: LiveGateway, browser: Any) -> None:
    driver, base = browser, live.base
    _sign_in(driver, base, "acme", "secret")
    send_id = _send(driver, base, "0612345678", "Pour acme seulement")

    # A form whose CSRF token is not the session's is refused, and nothing is sent.
    driver.get(f"{base}/console/send")
    driver.find_element(_by("ID"), "recipients").send_keys("0611111111")
    _type_text(driver, "Envoi forgé")
    driver.execute_script("document.querySelector('#send-form input[name=csrf]').value = 'forged'")
    driver.find_element(_by("ID"), "send-button").click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "error"))
    assert "/console/send" in driver.current_url
    driver.get(f"{base}/console/history")
    assert len(driver.find_elements(_by("CSS_SELECTOR"), "tr.message")) == 1

    # The same refusal seen from outside the browser: a POST without the session's token gets 403.
    with httpx.Client(base_url=base) as client:
        client.get("/console/login")
        refused = client.post("/console/login", data={"login": "acme", "password": "secret"})
        assert refused.status_code == 403

    # Another account, signed in, cannot open the first account's send by its URL.
    driver.find_element(_by("CSS_SELECTOR"), "form.logout button").click()
    _wait(driver, lambda d: "/console/login" in d.current_url)
    _sign_in(driver, base, "other", "other-secret")
    driver.get(f"{base}/console/sends/{send_id}")
    assert "No such send." in _text_of(driver, "#error")
    assert "Pour acme seulement" not in driver.page_source
    driver.get(f"{base}/console/ops/connectors")  # not an operator: the page does not exist for this account
    assert _text_of(driver, "#error") == "Page not found."
    screenshot(driver, "refused")


def test_account_holder_sets_where_and_when_it_is_called_back(live: LiveGateway, browser: Any) -> None:
    driver, base = browser, live.base
    _sign_in(driver, base, "other", "other-secret")
    driver.get(f"{base}/console/callbacks")
    assert driver.find_element(_by("ID"), "statuses-all").is_selected()

    # A URL the notifier would refuse is refused on the page, and nothing is saved.
    driver.find_element(_by("ID"), "callback-url").send_keys("ftp://hooks.example/dlr")
    driver.find_element(_by("ID"), "statuses-final").click()
    driver.find_element(_by("ID"), "save-callback-settings").click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "callbacks-problem"))
    assert "Delivery reports URL: scheme 'ftp' refused" in _text_of(driver, "#callbacks-problem")
    driver.get(f"{base}/console/callbacks")
    assert driver.find_element(_by("ID"), "callback-url").get_attribute("value") == ""
    assert driver.find_element(_by("ID"), "statuses-all").is_selected()

    # A good one is saved with the choice of final statuses only, and is what the page shows from then on.
    driver.find_element(_by("ID"), "callback-url").send_keys("https://hooks.example/dlr?site=3")
    driver.find_element(_by("ID"), "reply-url").send_keys("https://hooks.example/mo")
    driver.find_element(_by("ID"), "statuses-final").click()
    driver.find_element(_by("ID"), "save-callback-settings").click()
    _wait(driver, lambda d: _text_of(d, "#callbacks-note") == "Saved.")
    driver.get(f"{base}/console/callbacks")
    assert driver.find_element(_by("ID"), "callback-url").get_attribute("value") == "https://hooks.example/dlr?site=3"
    assert driver.find_element(_by("ID"), "reply-url").get_attribute("value") == "https://hooks.example/mo"
    assert driver.find_element(_by("ID"), "statuses-final").is_selected()
    assert live.gateway is not None
    gateway = live.gateway
    account = live.call(lambda: account_service(gateway.settings, gateway.db).show("other")).account
    assert (account.callback_url, account.callback_statuses) == ("https://hooks.example/dlr?site=3", "final")
    screenshot(driver, "callbacks")


def test_operator_sees_the_carrier_connector_go_down(live: LiveGateway, browser: Any) -> None:
    driver, base = browser, live.base
    _sign_in(driver, base, "acme", "secret")
    for page, name in (("queues", "ops-queues"), ("engines", "ops-engines"), ("accounts", "ops-accounts")):
        driver.get(f"{base}/console/ops/{page}")
        assert driver.find_elements(_by("CSS_SELECTOR"), "main table")
        screenshot(driver, name)
    driver.get(f"{base}/console/ops/routes")
    driver.find_element(_by("ID"), "explain-number").send_keys("0612345678")
    _wait(driver, lambda d: "carrier" in _text_of(d, "#explain-connectors"))
    screenshot(driver, "ops-routes")

    driver.get(f"{base}/console/ops/connectors")
    row = 'tr.connector[data-connector="carrier"]'
    _wait(driver, lambda d: d.find_elements(_by("CSS_SELECTOR"), f'{row}[data-bound="up"]'))
    screenshot(driver, "ops-connectors")
    assert live.simulator is not None
    simulator = live.simulator
    live.call(simulator.stop)
    _wait(driver, lambda d: d.find_elements(_by("CSS_SELECTOR"), f'{row}[data-bound="down"]'))
    assert _text_of(driver, f"{row} .bound") in ("down", "déconnecté")


def test_account_holder_imports_contacts_and_funds_a_sub_account(
    live: LiveGateway, browser: Any, tmp_path: Path
) -> None:
    driver, base = browser, live.base
    _sign_in(driver, base, "acme", "secret")

    # A CSV file chosen in the file input, imported into a group: each line's outcome on the report.
    upload = tmp_path / "clients.csv"
    upload.write_bytes(b"numero;prenom;nom\r\n0612345678;Anne;Martin\r\n0698765432;Paul;Durand\r\n12;Faux;Num\r\n")
    driver.get(f"{base}/console/contacts")
    driver.find_element(_by("ID"), "import-file").send_keys(str(upload))
    driver.find_element(_by("ID"), "import-group").send_keys("clients")
    driver.find_element(_by("ID"), "import-button").click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "import-counts"))
    assert _text_of(driver, '#import-counts [data-outcome="created"]') == "2"
    assert _text_of(driver, '#import-counts [data-outcome="refused"]') == "1"
    assert "numéro de téléphone invalide" in _text_of(driver, 'tr.import-line[data-line="4"]')  # French: acme's
    screenshot(driver, "contacts-import")
    driver.get(f"{base}/console/contacts")
    assert len(driver.find_elements(_by("CSS_SELECTOR"), "tr.contact")) == 2
    screenshot(driver, "contacts")
    driver.get(f"{base}/console/groups")
    assert _text_of(driver, "tr.group .members") == "2"
    screenshot(driver, "groups")

    # A sub-account created, then funded by a transfer: both balances change on the page.
    driver.get(f"{base}/console/accounts")
    driver.find_element(_by("ID"), "subaccount-login").send_keys("acme-shop")
    driver.find_element(_by("ID"), "create-subaccount-button").click()
    _wait(driver, lambda d: d.find_elements(_by("CSS_SELECTOR"), 'tr.subaccount[data-login="acme-shop"]'))
    driver.find_element(_by("ID"), "transfer-amount").send_keys("25")
    driver.find_element(_by("ID"), "transfer-button").click()
    # The creation's note is still on the page until the transfer's answer replaces it: wait for the new balance.
    _wait(driver, lambda d: _text_of(d, 'tr.subaccount[data-login="acme-shop"] .balance') == "25")
    assert _text_of(driver, "#accounts-note")
    assert _text_of(driver, 'tr.subaccount[data-login="acme-shop"] .balance') == "25"
    assert _text_of(driver, "#target-balance") == "975"
    screenshot(driver, "subaccounts")

    # On the sub-account's own page, its parent has it called back for final statuses only.
    driver.find_element(_by("CSS_SELECTOR"), 'tr.subaccount[data-login="acme-shop"] a').click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "subaccount-callbacks"))
    driver.find_element(_by("ID"), "callback-url").send_keys("https://hooks.example/boutique")
    driver.find_element(_by("ID"), "statuses-final").click()
    driver.find_element(_by("ID"), "save-subaccount-callbacks").click()
    _wait(driver, lambda d: d.find_elements(_by("ID"), "accounts-note"))
    assert driver.find_element(_by("ID"), "statuses-final").is_selected()
    assert driver.find_element(_by("ID"), "callback-url").get_attribute("value") == "https://hooks.example/boutique"
    assert live.gateway is not None
    gateway = live.gateway
    shop = live.call(lambda: account_service(gateway.settings, gateway.db).show("acme-shop")).account
    assert (shop.callback_url, shop.callback_statuses) == ("https://hooks.example/boutique", "final")
    # ... and limits the countries it sends to: the page shows the limit as saved.
    driver.find_element(_by("ID"), "limit-countries").send_keys("fr,be")
    driver.find_element(_by("ID"), "save-subaccount-limits").click()
    _wait(driver, lambda d: _text_of(d, '#limits-saved [data-limit="countries"]') == "BE,FR")
    assert driver.find_element(_by("ID"), "limit-countries").get_attribute("value") == "BE,FR"
    assert _text_of(driver, '#limits-applied [data-applied="countries"]') == "BE,FR"  # what holds, at the top
    screenshot(driver, "subaccount")
    driver.get(f"{base}/console/ledger")
    assert len(driver.find_elements(_by("CSS_SELECTOR"), 'tr.entry[data-reason="transfer_out"]')) == 1
    screenshot(driver, "ledger")
