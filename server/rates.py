"""Billable rates and amounts: money kept exact, never in floats.

- A rate is an hourly price in the account's currency, stored as an integer of minor units
  (cents: "85.50" is 8550) and shown as a decimal string with two decimals ("85.50").
- A task's rate is its own `rate`, else the nearest ancestor's that has one (a project's rate
  covers its tree; a task may override it). A user's `rate`, where set, wins over the task's.
- An entry is billable as it says (`billable` true or false), else as its task says, again the
  nearest `billable` flag on the task or above it, default true (an entry without a task: true).
- An amount is billable seconds x rate: a report adds up `seconds x cents` per group as an
  integer and rounds each group's sum once, half up, to whole cents (`amount_cents`). The
  report's total amount is the sum of its groups' rounded amounts, so the rows add up to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequestError
from .store import Doc

# On task and user documents (minor units, or absent / None: none set here).
RATE = "rate"
# On task and entry documents (absent / None: as the task above / the entry's task says).
BILLABLE = "billable"

# On the account document: an ISO 4217 code, the currency of every rate and amount.
CURRENCY = "currency"
DEFAULT_CURRENCY = "EUR"
CURRENCY_PATTERN = "^[A-Z]{3}$"

# A rate as the API takes it: up to 9,999,999.99 per hour, at most two decimals.
RATE_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
_RATE = re.compile(RATE_PATTERN)
MINOR_UNITS = 100
# A task as stored, or as the tree index keeps it (read like a document).
Task = Mapping[str, Any]
SECONDS_PER_HOUR = 3600


def parse_rate(text: str | None, name: str = RATE) -> int | None:
    """A decimal string ("85", "85.5", "85.50") as minor units; None stays None (unset)."""
    if text is None:
        return None
    if not _RATE.match(text):
        raise InvalidRequestError(
            f"{name} must be a decimal number with at most two decimals, such as 85.50."
        )
    whole, _, fraction = text.partition(".")
    return int(whole) * MINOR_UNITS + int(fraction.ljust(2, "0"))


def format_money(minor: int | None) -> str | None:
    """Minor units as the API shows money: "1234.50"."""
    if minor is None:
        return None
    return f"{minor // MINOR_UNITS}.{minor % MINOR_UNITS:02d}"


def amount_cents(cent_seconds: int) -> int:
    """Σ seconds x rate (minor units per hour) as minor units, rounded half up once."""
    return (2 * cent_seconds + SECONDS_PER_HOUR) // (2 * SECONDS_PER_HOUR)


@dataclass(frozen=True)
class TaskBilling:
    """What a task passes on to the entries on it: its effective rate and billable default."""

    rate: int | None
    billable: bool


NO_TASK = TaskBilling(rate=None, billable=True)


def task_billing(
    task: Task, tasks: Mapping[str, Task], known: dict[str, TaskBilling] | None = None
) -> TaskBilling:
    """The task's rate and billable default, inherited from the nearest task that sets them;
    `tasks`: the account's tasks by id (its ancestors among them); `known`: the billing of
    tasks worked out before (a parent's is worked out once for all its children)."""
    if known is not None and task["_id"] in known:
        return known[task["_id"]]
    above = NO_TASK  # (above the top)
    for ancestor in reversed(task["ancestors"]):  # (the nearest one there is)
        if known is not None and ancestor in known:
            above = known[ancestor]
            break
        parent = tasks.get(ancestor)
        if parent is not None:
            above = task_billing(parent, tasks, known)
            break
    rate, billable = task.get(RATE), task.get(BILLABLE)
    billing = TaskBilling(
        rate=above.rate if rate is None else rate,
        billable=above.billable if billable is None else bool(billable),
    )
    if known is not None:
        known[task["_id"]] = billing
    return billing


def entry_billable(entry: Doc, task: TaskBilling) -> bool:
    own = entry.get(BILLABLE)
    return task.billable if own is None else bool(own)


def entry_rate(user: Doc | None, task: TaskBilling) -> int | None:
    """The hourly rate an entry is priced at: its user's where set, else its task's."""
    own = user.get(RATE) if user is not None else None
    return task.rate if own is None else int(own)
