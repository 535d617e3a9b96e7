"""Modal dialogs: confirm, choose one of a few, and a small form."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class ConfirmDialog(ModalScreen[bool]):
    """A question with a yes and a no; an optional warning in red above the buttons."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, confirm: str, warning: str | None = None):
        super().__init__()
        self.title_text = title
        self.question = question
        self.confirm = confirm
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.title_text}[/b]")
            yield Static(self.question, markup=False)
            if self.warning:
                yield Static(self.warning, classes="warning", id="dialog-warning", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.confirm} (y)", id="yes", variant="error", compact=True)
                yield Button("Cancel (n)", id="no", compact=True)
        yield Footer(compact=True)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one option from a list (arrow keys, Enter)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None):
        super().__init__()
        self.title_text = title
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.title_text}[/b]  (Enter picks, Esc cancels)", id="choice-title")
            yield OptionList(*[Option(label, id=value) for label, value in self.options])
        yield Footer(compact=True)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for index, (_, value) in enumerate(self.options):
            if value == self.current:
                options.highlighted = index
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AddUserDialog(ModalScreen[dict[str, str] | None]):
    """Email, name, password and account role of a new user."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Add user", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Add a user[/b]")
            yield Label("Email")
            yield Input(id="new-email", compact=True)
            yield Label("Name")
            yield Input(id="new-name", compact=True)
            yield Label("Password (8 characters or more)")
            yield Input(id="new-password", password=True, compact=True)
            yield Checkbox("Administrator (manages users and the integration)", id="new-admin")
            yield Static("Ctrl+S adds the user.", classes="hint")
            yield Static("", id="add-error", classes="warning", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#new-email", Input).focus()

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        self.focus_next()

    def action_save(self) -> None:
        values = {
            key: self.query_one(f"#new-{key}", Input).value for key in ("email", "name", "password")
        }
        values["email"], values["name"] = values["email"].strip(), values["name"].strip()
        if not values["email"] or not values["name"] or not values["password"]:
            self.query_one("#add-error", Static).update("Email, name and password are needed.")
            return
        role = "administrator" if self.query_one("#new-admin", Checkbox).value else "user"
        self.dismiss({**values, "role": role})

    def action_cancel(self) -> None:
        self.dismiss(None)
