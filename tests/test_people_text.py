"""Names and notes are people's text: NUL, other control characters and the bidirectional
controls that make a name read differently from what it is never get in."""

from __future__ import annotations

from support import World

from server.text import clean_name, clean_note


def test_names_are_one_clean_line_and_notes_keep_their_lines() -> None:
    assert clean_name("  Pay\u202egnp.exe\x00 ") == "Paygnp.exe"
    assert clean_name("Acme\r\nrenewal\t") == "Acmerenewal"
    assert clean_name("\u2066\u2069\u200f") == ""
    assert clean_note("first\r\nsecond\rthird\x00\u2067\n\tindented") == (
        "first\nsecond\nthird\n\tindented"
    )
    assert clean_name("Zoë — café 日本") == "Zoë — café 日本"  # ordinary text stays


async def test_names_and_notes_arrive_clean_through_the_api(world: World) -> None:
    task = await world.admin.create_task("Quarterly\u202e review\x00")
    assert task["name"] == "Quarterly review"
    r = await world.admin.patch(f"/api/v1/tasks/{task['id']}", {"name": "Renamed\x07\u2066"})
    assert r.body["name"] == "Renamed"
    r = await world.admin.post("/api/v1/timer/start", {"task_id": task["id"], "note": "a\x00\r\nb"})
    assert r.status == 201 and r.body["entry"]["note"] == "a\nb"
    bob = await world.admin.add_user("bob@acme.test", name="Bob\u200f\nBuilder")
    me = (await bob.get("/api/v1/me")).body
    assert me["name"] == "BobBuilder"


async def test_a_name_of_nothing_but_controls_is_refused(world: World) -> None:
    r = await world.admin.post("/api/v1/tasks", {"name": "\u202e\x00\u2066"})
    assert (r.status, r.code) == (400, "invalid_request")
    assert "name" in r.body["error"]["message"]
