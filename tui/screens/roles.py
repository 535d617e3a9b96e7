"""Roles on the project tree: who is a member of a node, with which role, inherited from where."""

from __future__ import annotations

from collections import Counter

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode

from ..api import Member, Task, TaskPage
from ..widgets.fitted_table import Column, FittedTable
from .base import counted
from .dialogs import ChoiceDialog, ConfirmDialog
from .pane import Pane, reports_failures

LOCK = "🔒"
ROLES = [("manager: tracks time, sees everyone's in it", "manager"),
         ("regular: tracks own time", "regular"),
         ("guest: sees the tasks, cannot track", "guest")]  # fmt: skip
MORE = "more"
# Long names are cut (…) so that the role always shows.
MEMBER_COLUMNS = (Column("User", flexible=True), Column("Role"), Column("From", flexible=True))
TAIL = 6  # characters of an id that tell namesakes apart


def record_id(task: Task) -> str:
    """What tells a task apart from a namesake: its Salesforce record id, else its own id."""
    source = task["source"]
    return source["id"][:15] if source else task["id"]


def label(task: Task, with_path: bool = False, tag: str | None = None) -> Text:
    """How a task reads in the tree: its name first, so that a narrow tree shows what tells
    results apart, then (search results) the path it is in, dimmed; `tag` (an id or its tail)
    ahead of the name, for namesakes."""
    text = Text()
    if task["locked"]:
        text.append(LOCK + " ")
    if tag:
        text.append(f"#{tag} ", style="bold")
    text.append(task["name"])
    if task["archived"]:
        text.append(" (archived)", style="dim")
    if with_path and task["path"]:
        text.append(" in " + " > ".join(task["path"]), style="dim")
    return text


def shown(text: str, room: int | None) -> str:
    """What of `text` a line of `room` cells shows (all of it when `room` is None)."""
    if room is None:
        return text
    cut = Text(text)
    cut.truncate(room)
    return cut.plain


def tags(tasks: list[Task], with_path: bool, room: int | None = None) -> dict[str, str]:
    """Tags for the tasks that would read the same as another in `room` cells (namesakes, or
    long names alike in all the tree shows of them): the tail of their id, or the whole id where
    tails collide too."""
    reads = Counter(shown(label(task, with_path).plain, room) for task in tasks)
    namesakes = [task for task in tasks if reads[shown(label(task, with_path).plain, room)] > 1]
    tails = Counter(record_id(task)[-TAIL:] for task in namesakes)
    return {
        task["id"]: record_id(task)[-TAIL:]
        if tails[record_id(task)[-TAIL:]] == 1
        else record_id(task)
        for task in namesakes
    }


class RolesPane(Pane):
    BINDINGS = [
        Binding("a", "assign", "Assign"),
        Binding("c", "change_role", "Role"),
        Binding("d", "unassign", "Unassign"),
        Binding("D", "unassign_project", "Whole project"),
        Binding("slash", "search", "Find"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.members: list[Member] = []
        self.names: dict[str, str] = {}
        self.loaded = False
        self.query_text = ""

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="tree-side"):
                yield Input(placeholder="search tasks (Enter)", id="tree-q", compact=True)
                tree: Tree[Task | str] = Tree("Projects", id="tree")
                tree.show_root = False
                yield tree
            with Vertical(id="members-side"):
                yield Static("Pick a node on the left.", id="node-title")
                yield FittedTable(*MEMBER_COLUMNS, id="members")

    @property
    def project_tree(self) -> Tree[Task | str]:
        return self.query_one("#tree", Tree)

    @property
    def table(self) -> FittedTable:
        return self.query_one("#members", FittedTable)

    def focus_first(self) -> None:
        self.project_tree.focus()

    def reload(self) -> None:
        """On showing the tab: the tree the first time, the current node's members always
        (someone may have changed them elsewhere meanwhile)."""
        if not self.loaded:
            self.load_roots(self.query_one("#tree-q", Input).value)
        elif (task := self.current_task) is not None:
            self.load_members(task)

    def action_reload(self) -> None:
        self.load_roots(self.query_one("#tree-q", Input).value)

    def action_search(self) -> None:
        self.query_one("#tree-q", Input).focus()

    @on(Input.Submitted, "#tree-q")
    def searched(self, event: Input.Submitted) -> None:
        self.load_roots(event.value)
        self.project_tree.focus()

    @work(exclusive=True, group="tree")
    @reports_failures
    async def load_roots(self, q: str, cursor: str | None = None) -> None:
        """The projects, or the tasks matching `q` (with their path); `cursor`: the next page."""
        q = q.strip()
        self.query_text = q
        page = await (self.api.search_tasks(q, cursor) if q else self.api.projects(cursor=cursor))
        self.loaded = True
        if cursor is None:
            self.project_tree.clear()  # a new root node
        root = self.project_tree.root
        self.add_page(root, page, with_path=bool(q))
        if not root.children:
            root.add_leaf("nothing found" if q else "no projects yet")
        if cursor is None:
            self.project_tree.cursor_line = 0
            if (task := self.current_task) is not None:
                self.load_members(task)  # also when the cursor was on the first line already

    def add_page(self, parent: TreeNode[Task | str], page: TaskPage, with_path: bool) -> None:
        # Two tasks that would read the same on screen show their ids.
        tagged = tags(page["items"], with_path, self.label_room(parent))
        for task in page["items"]:
            self.names[task["id"]] = task["name"]
            tag = tagged.get(task["id"])
            parent.add(label(task, with_path, tag), data=task, allow_expand=True)
        if page["next_cursor"]:
            parent.add_leaf(
                Text("… more (Enter)", style="dim"), data=f"{MORE}:{page['next_cursor']}"
            )

    def label_room(self, parent: TreeNode[Task | str]) -> int | None:
        """The cells a label of a child of `parent` gets: the tree's width less its scrollbar,
        the expand icon and the indentation (None before the tree is laid out)."""
        tree = self.project_tree
        if not tree.size.width:
            return None
        depth, node = 0, parent
        while node.parent is not None:
            depth, node = depth + 1, node.parent
        indent = len(tree.ICON_NODE) + depth * tree.guide_depth
        return max(1, tree.size.width - tree.styles.scrollbar_size_vertical - indent)

    @on(Tree.NodeExpanded, "#tree")
    def expanded(self, event: Tree.NodeExpanded[Task | str]) -> None:
        node = event.node
        if isinstance(node.data, dict) and not node.children:
            self.load_children(node, node.data["id"], None)

    @on(Tree.NodeSelected, "#tree")
    def selected(self, event: Tree.NodeSelected[Task | str]) -> None:
        node = event.node
        if isinstance(node.data, str) and node.data.startswith(MORE) and node.parent is not None:
            parent, cursor = node.parent, node.data.split(":", 1)[1]
            node.remove()
            if isinstance(parent.data, dict):
                self.load_children(parent, parent.data["id"], cursor)
            else:
                self.load_roots(self.query_text, cursor)

    @work(group="children")
    @reports_failures
    async def load_children(
        self, node: TreeNode[Task | str], task_id: str, cursor: str | None
    ) -> None:
        page = await self.api.children(task_id, cursor)
        if not page["items"] and cursor is None:
            node.allow_expand = False
            return
        self.add_page(node, page, with_path=False)
        node.expand()

    @property
    def current_task(self) -> Task | None:
        node = self.project_tree.cursor_node
        return node.data if node is not None and isinstance(node.data, dict) else None

    @on(Tree.NodeHighlighted, "#tree")
    def highlighted(self, event: Tree.NodeHighlighted[Task | str]) -> None:
        if isinstance(event.node.data, dict):
            self.load_members(event.node.data)

    @work(exclusive=True, group="members")
    @reports_failures
    async def load_members(self, task: Task) -> None:
        members = await self.api.members(task["id"])
        for member in members:
            source = member["inherited_from"]
            if source and source not in self.names:
                found = await self.api.task(source)
                self.names[source] = found["name"]
        self.show_members(task, members)

    def show_members(self, task: Task, members: list[Member]) -> None:
        self.members = members
        lock = f"\n{LOCK} imported (locked); roles editable" if task["locked"] else ""
        self.query_one("#node-title", Static).update(
            f"[b]{escape(task['name'])}[/b]: {counted(len(members), 'member')}{lock}"
        )
        table = self.table
        # The cursor stays with the person it was on (or, if they left, on the same row), so
        # that the next key acts on whom the administrator is looking at.
        was_on, row = self.member, table.cursor_row
        table.fill(
            [(m["user"]["id"], [m["user"]["name"], m["role"], self.where(m)]) for m in members]
        )
        ids = [m["user"]["id"] for m in members]
        if was_on is not None and was_on["user"]["id"] in ids:
            row = ids.index(was_on["user"]["id"])
        if members:
            table.move_cursor(row=max(0, min(row, len(members) - 1)), animate=False)

    def where(self, member: Member) -> str:
        source = member["inherited_from"]
        return "this node" if source is None else f"↑ {self.names.get(source, source)}"

    @property
    def member(self) -> Member | None:
        row = self.table.cursor_row
        return self.members[row] if 0 <= row < len(self.members) else None

    def action_assign(self) -> None:
        task = self.current_task
        if task is None:
            self.app.notify("Pick a node first.", severity="warning")
            return
        self.pick_user_then_role(task)

    @work(group="members-edit")
    @reports_failures
    async def pick_user_then_role(self, task: Task) -> None:
        users = [u for u in await self.api.users() if u["active"]]
        options = [(f"{u['name']} <{u['email']}>", u["id"]) for u in users]
        user_id = await self.app.push_screen_wait(
            ChoiceDialog(f"Assign to {task['name']}", options)
        )
        if user_id is None:
            return
        role = await self.app.push_screen_wait(ChoiceDialog("Role", ROLES, "regular"))
        if role is not None:
            await self.set_role(task, user_id, role)

    def action_change_role(self) -> None:
        task, member = self.current_task, self.member
        if task is None or member is None:
            self.app.notify("Pick a node and a member first.", severity="warning")
            return
        self.change_role(task, member)

    @work(group="members-edit")
    async def change_role(self, task: Task, member: Member) -> None:
        title = f"Role of {member['user']['name']} on {task['name']}"
        role = await self.app.push_screen_wait(ChoiceDialog(title, ROLES, member["role"]))
        if role is not None:
            await self.set_role(task, member["user"]["id"], role)

    @reports_failures
    async def set_role(self, task: Task, user_id: str, role: str) -> None:
        await self.api.set_role(task["id"], user_id, role)
        self.app.notify(f"Role set to {role} on {task['name']}.")
        self.load_members(task)

    def action_unassign(self) -> None:
        task, member = self.current_task, self.member
        if task is None or member is None:
            self.app.notify("Pick a node and a member first.", severity="warning")
            return
        if member["inherited_from"] is not None:
            where = self.names.get(member["inherited_from"], "a node above")
            self.app.notify(
                f"{member['user']['name']}'s role comes from {where}: unassign there, "
                "or from the entire project (D).",
                severity="warning",
            )
            return
        self.confirm_unassign(task, member)

    @work(group="members-edit")
    async def confirm_unassign(self, task: Task, member: Member) -> None:
        user = member["user"]
        question = (
            f"Remove {user['name']} <{user['email']}> ({member['role']}) from {task['name']}?"
        )
        confirm = ConfirmDialog("Unassign", question, "Unassign")
        if await self.app.push_screen_wait(confirm):
            self.unassign(task, member, task, subtree=False)

    def action_unassign_project(self) -> None:
        task, member = self.current_task, self.member
        if task is None or member is None:
            self.app.notify("Pick a node and a member first.", severity="warning")
            return
        self.unassign_project(task, member)

    @work(group="members-edit")
    @reports_failures
    async def unassign_project(self, task: Task, member: Member) -> None:
        project = await self.project_of(task)
        question = (
            f"Remove every assignment of {member['user']['name']} in the project "
            f"{project['name']} (this node and everything in it)?"
        )
        confirm = ConfirmDialog("Unassign from the entire project", question, "Unassign")
        if await self.app.push_screen_wait(confirm):
            self.unassign(task, member, project, subtree=True)

    async def project_of(self, task: Task) -> Task:
        """The project (root) a task belongs to, walking up by parent."""
        current = task
        while current["parent_id"] is not None:
            current = await self.api.task(current["parent_id"])
        return current

    @work(group="members-edit")
    @reports_failures
    async def unassign(self, task: Task, member: Member, target: Task, subtree: bool) -> None:
        await self.api.unassign(target["id"], member["user"]["id"], subtree=subtree)
        where = f"the entire project {target['name']}" if subtree else target["name"]
        self.app.notify(f"{member['user']['name']} is unassigned from {where}.")
        self.load_members(task)
