"""How the console words the services' refusals: the form's label of the field at fault, then the problem in the
page's language (`t`, which reads the rules' problems from `martinet.api.problems_fr` on French pages)."""

from __future__ import annotations

from martinet.api.console.context import Ctx
from martinet.services.accounts import InvalidAccountSetting

#: The forms' labels of the settings a refusal names (`InvalidAccountSetting.setting`).
_LABELS = {
    "callback_url": "Delivery reports URL",
    "reply_url": "Replies URL",
    "callback_statuses": "Delivery reports",
    "lane": "Lane",
    "rate_limit": "Rate limit (sends/s)",
}


def labelled(ctx: Ctx, label: str, problem: str) -> str:
    """`Label: problem`, both in the page's language: how every form of the console gives a refusal."""
    return f"{ctx.t(label)}: {ctx.t(problem)}"


def settings_problem(ctx: Ctx, exc: InvalidAccountSetting) -> str:
    """A refused setting as the forms show it: the field's label and the problem in the page's language, or the
    service's message for a setting no form of the console names."""
    if exc.problem is None or exc.setting not in _LABELS:
        return str(exc)
    return labelled(ctx, _LABELS[exc.setting], exc.problem)
