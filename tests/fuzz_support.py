"""Schemathesis against a live server, through its Python API: every operation's coverage cases,
then a bounded number of generated examples, each answer validated against the OpenAPI
document; failures are collected (one example per kind) instead of stopping at the first."""

from __future__ import annotations

import collections
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.errors import InvalidSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]

# Generated examples per operation, valid and invalid ones together (the coverage cases come
# on top: a few to a hundred per operation, as many as its parameters call for).
EXAMPLES = 25
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    unsupported_method,
]
# aiohttp refuses a request line longer than this (its `max_line_size`) with a plain-text 400
# before the app sees the request (README, "Limits").
MAX_REQUEST_LINE = 8190
# Operations that take away what the others need run last, sign-out (the token) at the very end.
LAST = ("DELETE", "POST /api/v1/auth/logout")
SIGN_OUT = "POST /api/v1/auth/logout"


@dataclass(frozen=True)
class Known:
    """Ids of existing objects, offered to the operations' path parameters beside generated ones."""

    tasks: tuple[str, ...]
    users: tuple[str, ...]
    entries: tuple[str, ...]

    def path_parameters(self, path: str) -> list[dict[str, str]]:
        if path.startswith("/api/v1/tasks/{id}/members/{user_id}"):
            return [{"id": t, "user_id": u} for t in self.tasks for u in self.users]
        if path.startswith("/api/v1/tasks/{id}"):
            return [{"id": t} for t in self.tasks]
        if path.startswith("/api/v1/users/{id}"):
            return [{"id": u} for u in self.users]
        if path.startswith("/api/v1/entries/{id}"):
            return [{"id": e} for e in self.entries]
        return []


@dataclass
class Contract:
    """What the run saw: answers per operation and status, and one example of each failure."""

    answered: int = 0
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    refused_by_aiohttp: int = 0
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)

    def record(self, case: AnyCase, response: Response, checks: list[CheckFunction]) -> None:
        label = case.operation.label
        self.answered += 1
        self.statuses[(label, response.status_code)] += 1
        if _refused_before_the_app(response):
            self.refused_by_aiohttp += 1
            return
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (label, failure.title, response.status_code)
                self.failures.setdefault(key, _example(case, response, failure.message))

    def report(self) -> str:
        lines = [
            f"{self.answered} answers, {len(self.failures)} kinds of failure "
            f"({self.refused_by_aiohttp} over-long request lines refused by aiohttp)"
        ]
        for (label, title, status), example in self.failures.items():
            lines += [f"--- {label}: {title} ({status})", example]
        return "\n".join(lines)


def _content_type(response: Response) -> str:
    return (response.headers.get("content-type") or [""])[0]


def _refused_before_the_app(response: Response) -> bool:
    line = f"{response.request.method} {response.request.path_url} HTTP/1.1"
    return (
        response.status_code == 400
        and _content_type(response).startswith("text/plain")
        and len(line.encode()) > MAX_REQUEST_LINE
    )


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _example(case: AnyCase, response: Response, message: str) -> str:
    request = response.request
    body = request.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    return textwrap.indent(
        "\n".join(
            [
                message.strip(),
                f"request: {request.method} {_short(str(request.url))}",
                f"body: {_short(str(body))}" if body else "body: (none)",
                f"answer: {response.status_code} {_content_type(response)} {_short(response.text)}",
            ]
        ),
        "    ",
    )


def _ordered(operations: Iterable[Operation]) -> list[Operation]:
    def rank(op: Operation) -> int:
        return 2 if op.label == SIGN_OUT else 1 if op.method.upper() == "DELETE" else 0

    return sorted(operations, key=rank)


def _coverage_cases(op: Operation) -> Iterator[AnyCase]:
    schema = op.schema
    cases: Iterator[AnyCase] = schema.iter_coverage_cases(
        op,
        generation_modes=list(MODES),
        generation_config=schema.config.generation_for(operation=op),
    )
    return cases


def _examples(op: Operation, known: Known) -> st.SearchStrategy[AnyCase]:
    strategies = [op.as_strategy(mode) for mode in MODES]
    strategies += [
        op.as_strategy(mode, path_parameters=values)
        for values in known.path_parameters(op.path)
        for mode in MODES
    ]
    return st.one_of(strategies)


def fuzz(base_url: str, token: str, known: Known) -> Contract:
    """Drive every operation of the server at `base_url` as the administrator whose `token` this
    is; blocking (schemathesis sends with requests), so run it off the server's event loop."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    contract = Contract()
    session = requests.Session()
    session.trust_env = False  # the server is local: no proxy from the environment
    headers = {"Authorization": f"Bearer {token}"}

    def send(case: AnyCase) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers)
        contract.record(case, response, CHECKS)

    operations = _ordered(_valid(result) for result in schema.get_all_operations())
    for op in operations:
        for case in _coverage_cases(op):
            send(case)
        _run_examples(_examples(op, known), send)
    return contract


def _valid(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    """An operation, or the document's error about it (a failure of the contract itself)."""
    if isinstance(result, Err):
        raise AssertionError(f"The OpenAPI document is invalid: {result.err()}")
    return result.ok()


def _run_examples(strategy: st.SearchStrategy[AnyCase], send: Callable[[AnyCase], Any]) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same examples every run
        database=None,
        deadline=None,
        phases=[Phase.generate],  # failures are collected, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: AnyCase) -> None:
        send(case)

    run()
