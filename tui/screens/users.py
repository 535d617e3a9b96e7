"""The account's users: add, change account role, deactivate and reactivate."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from ..api import User
from ..widgets.fitted_table import Column, FittedTable
from .base import counted
from .dialogs import AddUserDialog, ChoiceDialog, ConfirmDialog
from .pane import Pane, reports_failures

ACCOUNT_ROLES = [
    ("administrator: manages users, the integration, items, roles", "administrator"),
    ("user: tracks time", "user"),
]

# Long names and emails are cut (…) so that the role, the state and the owner always show.
COLUMNS = (
    Column("Name", flexible=True),
    Column("Email", flexible=True),
    Column("Role"),
    Column("Active"),
    Column(""),
)


class UsersPane(Pane):
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("c", "change_role", "Role"),
        Binding("d", "deactivate", "(Re)activate"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.users: list[User] = []
        self.owner_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="users-title")
        yield FittedTable(*COLUMNS, id="users")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#users", FittedTable)

    def focus_first(self) -> None:
        self.table.focus()

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="users")
    @reports_failures
    async def load(self) -> None:
        users = await self.api.users()
        owner = (await self.api.integration())["owner"]
        self.owner_id = owner["id"] if owner else None
        self.show(users)

    def show(self, users: list[User]) -> None:
        self.users = users
        active = sum(1 for u in users if u["active"])
        self.query_one("#users-title", Static).update(
            f"{counted(len(users), 'user')}, {active} active"
        )
        self.table.fill(
            [
                (
                    user["id"],
                    [
                        user["name"],
                        user["email"],
                        user["role"],
                        "yes" if user["active"] else "no",
                        "Salesforce owner" if user["id"] == self.owner_id else "",
                    ],
                )
                for user in users
            ]
        )

    @property
    def user(self) -> User | None:
        row = self.table.cursor_row
        return self.users[row] if 0 <= row < len(self.users) else None

    def action_add(self) -> None:
        def added(values: dict[str, str] | None) -> None:
            if values:
                self.add(values)

        self.app.push_screen(AddUserDialog(), added)

    @work(group="users-edit")
    @reports_failures
    async def add(self, values: dict[str, str]) -> None:
        user = await self.api.add_user(
            values["email"], values["name"], values["password"], values["role"]
        )
        self.app.notify(f"{user['name']} is added.")
        self.load()

    def action_change_role(self) -> None:
        user = self.user
        if user is None:
            return

        def chosen(role: str | None) -> None:
            if role and user and role != user["role"]:
                self.update(user, role=role)

        title = f"Account role of {user['name']}"
        self.app.push_screen(ChoiceDialog(title, ACCOUNT_ROLES, user["role"]), chosen)

    @work(group="users-edit")
    @reports_failures
    async def update(self, user: User, role: str) -> None:
        changed = await self.api.update_user(user["id"], role=role)
        self.app.notify(f"{changed['name']} is now {changed['role']}.")
        self.load()

    def action_deactivate(self) -> None:
        user = self.user
        if user is None:
            return
        if not user["active"]:
            self.ask_to_reactivate(user)
            return
        warning = None
        if user["id"] == self.owner_id:
            warning = (
                f"{user['name']} owns the Salesforce integration: deactivating them pauses "
                "syncing until an administrator re-enables it (Overview, e)."
            )
        question = (
            f"Deactivate {user['name']} <{user['email']}>? They can no longer sign in; their "
            "time entries are kept."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.deactivate(user)

        self.app.push_screen(
            ConfirmDialog("Deactivate user", question, "Deactivate", warning), answered
        )

    def ask_to_reactivate(self, user: User) -> None:
        question = (
            f"Reactivate {user['name']} <{user['email']}>? They can sign in again with their "
            f"password, as {user['role']}."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.reactivate(user)

        self.app.push_screen(ConfirmDialog("Reactivate user", question, "Reactivate"), answered)

    @work(group="users-edit")
    @reports_failures
    async def reactivate(self, user: User) -> None:
        await self.api.update_user(user["id"], active=True)
        self.app.notify(f"{user['name']} is active again.")
        self.load()

    @work(group="users-edit")
    @reports_failures
    async def deactivate(self, user: User) -> None:
        await self.api.deactivate_user(user["id"])
        self.app.notify(f"{user['name']} is deactivated.")
        self.load()
