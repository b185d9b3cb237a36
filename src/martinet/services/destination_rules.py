"""Country rules at acceptance: which recipients a send may not reach, and why.

The rules themselves are data (:mod:`martinet.domain.country_rules`); this is the step of accepting a send that
applies them per recipient, kept apart from :mod:`martinet.services.accept` so that the acceptance path stays
one readable sequence with a single call here. A recipient its country would not deliver to (an alphanumeric
sender to the United States, an unregistered sender to India, Unicode where it is not delivered) is refused on
its own with status 3560 and costs nothing, as an unpriced destination is; when no recipient is left the whole
send is refused, naming the parameter at fault and the countries, so the client learns what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from martinet.domain.country_rules import CountryRules
from martinet.domain.recipients import InvalidRecipient, Recipient
from martinet.domain.routing import Operator, OperatorLookup
from martinet.domain.valueclass import valueclass

__all__ = ["DestinationRules", "Refusals"]


@valueclass
class Refusals:
    """Country → why its recipients are refused; ``all_refused`` is (parameter, problem) when none is left."""

    by_country: Mapping[str, str]
    all_refused: tuple[str, str] | None


_NONE = Refusals({}, None)


class DestinationRules:
    """Applies the country rules to the recipients of one send (one verdict per country, not per number)."""

    def __init__(self, rules: CountryRules, operators: OperatorLookup | None = None) -> None:
        """``operators``: how the preview names each recipient's operator (None: it does not)."""
        self._rules = rules
        self._operators = operators

    def operator(self, recipient: Recipient) -> Operator | None:
        """The range holder of ``recipient`` and its MCC+MNC, for the preview; None when not looked up."""
        if self._operators is None:
            return None
        found = self._operators.operator(recipient.msisdn)
        return None if found.name is None and found.mccmnc is None else found

    @property
    def rules(self) -> CountryRules:
        return self._rules

    def refusals(
        self, recipients: Iterable[Recipient | InvalidRecipient], sender: str | None, unicode: bool
    ) -> Refusals:
        countries = {r.country for r in recipients if isinstance(r, Recipient)}
        refused: dict[str, str] = {}
        parameters: dict[str, str] = {}
        for country in sorted(countries):
            verdict = self._rules.check(country, sender, unicode)
            if verdict.problem is not None:
                refused[country] = verdict.problem
                parameters[country] = verdict.parameter
        if not refused:
            return _NONE
        if len(refused) < len(countries):
            return Refusals(refused, None)
        # Every recipient is refused: answer with the parameter most of them fault, every reason listed.
        parameter = max(sorted(set(parameters.values())), key=list(parameters.values()).count)
        return Refusals(refused, (parameter, "; ".join(refused[c] for c in sorted(refused))))
