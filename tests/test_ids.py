"""Object ids: unique within and across processes, in the API's id format."""

from __future__ import annotations

import os

from server.ids import new_id, parse_id


def test_ids_are_unique_and_in_the_apis_format() -> None:
    ids = [new_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(parse_id(i, "id") == i for i in ids[:1000])


def test_a_forked_process_makes_other_ids() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.write(write, "".join(new_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(write)
    mine = {new_id() for _ in range(1000)}
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(child, 0)
    theirs = {text[i : i + 24] for i in range(0, len(text), 24)}
    assert len(theirs) == 1000 and not mine & theirs
