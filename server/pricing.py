"""Which entries a caller may see priced, and at what: the billable side of a report.

Rates are visible to administrators (every entry) and to managers of a project (the entries on
tasks they manage: the nearest role there is `manager`). A caller who manages nothing sees no
amounts at all (`may_see_rates`). A report asks `Pricer.look_up` for the users and tasks of each
batch of entries, then `Pricer.rate` once per user, task and billable flag it meets; tasks and
their billing come from the tree index, users from the store, each read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .accounts import Accounts, Caller
from .rates import NO_TASK, TaskBilling, entry_rate
from .store import Doc
from .tree import MANAGER, Assignments, Tree


async def may_see_rates(tree: Tree, caller: Caller) -> bool:
    """Administrators, and managers (of some project): they see amounts in reports."""
    if caller.is_admin:
        return True
    return MANAGER in (await tree.assignments(caller)).roles.values()


class Pricer:
    def __init__(self, tree: Tree, accounts: Accounts, caller: Caller) -> None:
        self._tree = tree
        self._accounts = accounts
        self._caller = caller
        self._assignments: Assignments | None = None
        self._tasks: dict[str, Mapping[str, Any]] = {}
        self._billing: dict[str, TaskBilling] = {}
        self._users: dict[str, Doc] = {}
        self._asked_users: set[str] = set()

    async def look_up(self, user_ids: Iterable[str], task_ids: Iterable[str | None]) -> None:
        """Read what pricing time by these users on these tasks needs and was not read yet."""
        account_id = self._caller.account_id
        if self._assignments is None and not self._caller.is_admin:
            self._assignments = await self._tree.assignments(self._caller)
        # (looked up one by one: a set minus `_billing.keys()` walks every task priced so far)
        unread = {t for t in task_ids if t and t not in self._billing}
        if unread:  # (their billing kept on the tree index until it changes, as entry views')
            for task_id, (task, billing) in (
                await self._tree.billed_tasks(account_id, unread)
            ).items():
                self._tasks[task_id] = task
                self._billing[task_id] = billing
        unasked = sorted(set(user_ids) - self._asked_users)
        if unasked:
            self._asked_users.update(unasked)
            self._users |= await self._accounts.users_by_id(account_id, unasked)

    def rate(self, user_id: str, task_id: str | None, billable: int | bool | None) -> int | None:
        """The hourly rate (minor units; 0 where none is set) of this user's time on this task
        when it is billable (`billable`: the entry's own flag; None: as its task says) and
        priced for the caller; None when it is not billable, or the caller may not see its rate
        (a manager's time on tasks they do not manage, or on no task)."""
        if not self._caller.is_admin:
            task = self._tasks.get(task_id) if task_id else None
            if task is None or self._assignments is None:
                return None
            if self._assignments.role(task) != MANAGER:
                return None
        billing = self._billing.get(task_id, NO_TASK) if task_id else NO_TASK
        if not (billing.billable if billable is None else billable):
            return None
        return entry_rate(self._users.get(user_id), billing) or 0
