"""What is imported: each type on or off, all of it or only the checked items; activities."""

from __future__ import annotations

from typing import cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection as Choice

from ..api import ApiError, CatalogItem, ObjectSelection, SalesforceObject, Selection
from ..widgets.checklist import CheckList
from ..widgets.status import StatusLine
from .base import counted
from .pane import Pane, reports_failures
from .watch import watch_run

OBJECTS: tuple[SalesforceObject, ...] = ("Opportunity", "Case")
PLURAL = {"Opportunity": "Opportunities", "Case": "Cases"}
MODES = [("All", "all"), ("Only checked", "selected"), ("Off", "off")]


class ItemsPane(Pane):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("t", "switch_object", "Opps|Cases"),
        Binding("slash", "search", "Find"),
        Binding("n", "page(1)", "Next"),
        Binding("p", "page(-1)", "Prev"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.picked: dict[str, set[str]] = {o: set() for o in OBJECTS}
        self.showing: SalesforceObject = "Opportunity"
        self.cursors: list[str | None] = [None]
        self.next_cursor: str | None = None
        self.page_size = 0
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            for sobject in OBJECTS:
                yield Static(f"{PLURAL[sobject]}:", classes="label")
                yield Select(MODES, id=f"mode-{sobject}", allow_blank=False, compact=True)
            yield Checkbox("Activities", True, id="activities", compact=True)
        with Horizontal(classes="row"):
            yield Static("", id="catalog-title")
            yield Input(placeholder="search (Enter)", id="catalog-q", compact=True)
        yield CheckList(id="catalog")
        yield StatusLine("", id="items-state")

    def focus_first(self) -> None:
        self.query_one("#catalog", SelectionList).focus()

    def action_reload(self) -> None:
        self.loaded = False
        self.reload()

    def reload(self) -> None:
        if not self.loaded:
            self.load_selection()

    @work(exclusive=True, group="items")
    @reports_failures
    async def load_selection(self) -> None:
        status = await self.api.integration()
        selection = status["selection"]
        for sobject in OBJECTS:
            chosen = selection["objects"].get(sobject)
            mode: str = "all" if chosen is None else chosen["mode"]
            if chosen is not None and not chosen["enabled"]:
                mode = "off"
            self.query_one(f"#mode-{sobject}", Select).value = mode
            self.picked[sobject] = set(chosen["ids"] if chosen else [])
        self.query_one("#activities", Checkbox).value = selection["activities"]
        self.loaded = True
        if status["status"] in ("active", "needs_reauth", "error"):
            self.turn_page(None, reset=True)
        else:
            self.query_one("#items-state", Static).update(
                "Connect Salesforce (Overview, e) to list its items."
            )

    def turn_page(self, cursor: str | None, reset: bool = False) -> None:
        if reset:
            self.cursors = [None]
        self.load_catalog(self.showing, self.query_one("#catalog-q", Input).value, cursor)

    @work(exclusive=True, group="catalog")
    async def load_catalog(self, sobject: SalesforceObject, q: str, cursor: str | None) -> None:
        self.query_one("#catalog-title", Static).update(f"{PLURAL[sobject]} in Salesforce")
        state = self.query_one("#items-state", Static)
        state.update("Loading from Salesforce…")
        try:
            page = await self.api.catalog(sobject, q, cursor)
        except ApiError as error:
            state.update(f"[red]{escape(error.message)}[/red]")
            self.failed(error)
            return
        self.next_cursor = page["next_cursor"]
        self.page_size = len(page["items"])
        self.show_items(sobject, page["items"])
        self.describe_page()

    def describe_page(self) -> None:
        more = "  n: next page" if self.next_cursor else ""
        back = "  p: previous page" if len(self.cursors) > 1 else ""
        mode = self.query_one(f"#mode-{self.showing}", Select).value
        imported = {
            "all": "all are imported",
            "off": "none is imported",
        }.get(str(mode), f"{len(self.picked[self.showing])} checked in all")
        self.query_one("#items-state", Static).update(
            f"Page {len(self.cursors)}, {counted(self.page_size, 'item')}; {imported}.{more}{back}"
        )

    @on(Select.Changed)
    def mode_changed(self, event: Select.Changed) -> None:
        if event.select.id == f"mode-{self.showing}" and self.page_size:
            self.describe_page()

    def show_items(self, sobject: str, items: list[CatalogItem]) -> None:
        catalog = cast(SelectionList[str], self.query_one("#catalog", SelectionList))
        catalog.clear_options()
        catalog.add_options(
            [
                Choice(
                    escape(item["name"]) + (" [dim](closed)[/dim]" if item["closed"] else ""),
                    item["id"],
                    item["id"] in self.picked[sobject],
                )
                for item in items
            ]
        )
        if items:
            catalog.highlighted = 0

    @on(SelectionList.SelectionToggled, "#catalog")
    def toggled(self, event: SelectionList.SelectionToggled[str]) -> None:
        value = event.selection.value
        chosen = self.picked[self.showing]
        if value in event.selection_list.selected:
            chosen.add(value)
        else:
            chosen.discard(value)
        self.describe_page()
        mode = self.query_one(f"#mode-{self.showing}", Select)
        if chosen and mode.value == "all":
            mode.value = "selected"
            self.app.notify(f"{PLURAL[self.showing]}: now only the checked ones (Ctrl+S saves).")

    @on(Input.Submitted, "#catalog-q")
    def searched(self) -> None:
        self.turn_page(None, reset=True)
        self.focus_first()

    def action_search(self) -> None:
        self.query_one("#catalog-q", Input).focus()

    def action_switch_object(self) -> None:
        self.showing = "Case" if self.showing == "Opportunity" else "Opportunity"
        self.turn_page(None, reset=True)

    def action_page(self, step: int) -> None:
        if step > 0 and self.next_cursor:
            self.cursors.append(self.next_cursor)
            self.turn_page(self.next_cursor)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
            self.turn_page(self.cursors[-1])

    def selection(self) -> Selection:
        objects: dict[str, ObjectSelection] = {}
        for sobject in OBJECTS:
            mode = self.query_one(f"#mode-{sobject}", Select).value
            objects[sobject] = {
                "enabled": mode != "off",
                "mode": "selected" if mode == "selected" else "all",
                "ids": sorted(self.picked[sobject]),
            }
        return {"objects": objects, "activities": self.query_one("#activities", Checkbox).value}

    def action_save(self) -> None:
        self.save(self.selection())

    @work(exclusive=True, group="items-save")
    async def save(self, selection: Selection) -> None:
        state = self.query_one("#items-state", Static)
        try:
            await self.api.set_selection(selection)
            self.app.notify("The selection is saved.")
            runs = await self.api.runs(limit=1)
            if runs and runs[0]["trigger"] == "selection":
                await watch_run(self.api, runs[0], state.update)
        except ApiError as error:
            state.update(f"[red]{escape(error.message)}[/red]")
            self.failed(error)
