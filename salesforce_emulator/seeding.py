"""Filling an org: a small hand-written demo org, or generated records by the thousand.

Generation is in memory with a fixed random seed, so the same counts give the same org (the same
names, stages and time offsets; ids and times are relative to when it runs).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .org import Org
from .schema import CASE_STATUSES, OPEN_STAGES, TASK_STATUSES

DEFAULT_USERNAME = "admin@acme-demo.example"
NO_API_USERNAME = "no.api@acme-demo.example"


@dataclass(frozen=True)
class SeedSpec:
    """How many records to generate. ``api_disabled_user`` adds a user whose profile has API
    access off (username ``no.api@acme-demo.example``)."""

    users: int = 2
    accounts: int = 10
    opportunities: int = 0
    cases: int = 0
    activities: int = 0
    events: int = 0
    api_disabled_user: bool = False
    random_seed: int = 20260101
    history_days: int = 60


def seed_users(org: Org, count: int, *, api_disabled_user: bool) -> None:
    org.add_user(DEFAULT_USERNAME, "Ada", "Admin")
    people = [("Sam", "Seller"), ("Cleo", "Closer"), ("Ravi", "Support"), ("Mia", "Manager")]
    for index in range(1, count):
        first, last = people[(index - 1) % len(people)]
        suffix = "" if index <= len(people) else str(index)
        org.add_user(f"{first.lower()}.{last.lower()}{suffix}@acme-demo.example", first, last)
    if api_disabled_user:
        org.add_user(NO_API_USERNAME, "Nico", "NoApi", api_enabled=False)


def seed_generated(org: Org, spec: SeedSpec, now: datetime) -> None:
    """Generated users, accounts, opportunities (about one in six closed: won, lost or a custom
    closed stage), cases (a quarter closed), activities spread over the opportunities and
    cases (a third completed) and events on them (about half already over)."""
    rng = random.Random(spec.random_seed)  # noqa: S311 - test data, not secrets
    seed_users(org, max(spec.users, 1), api_disabled_user=spec.api_disabled_user)
    owners = [u["Id"] for u in org.users() if org.user_api_enabled(u["Id"])]
    window = timedelta(days=spec.history_days).total_seconds()

    def moment() -> datetime:
        return now - timedelta(seconds=rng.uniform(60, window))

    accounts = [
        org.load(
            "Account",
            {
                "Name": f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_KINDS)} {i + 1}",
                "Industry": rng.choice(_INDUSTRIES),
                "Type": "Customer - Direct",
                "OwnerId": rng.choice(owners),
            },
            at=moment(),
        )["Id"]
        for i in range(spec.accounts)
    ]
    closed_stages = ("Closed Won", "Closed Won", "Closed Lost", "Closed - Duplicate")
    parents: list[str] = []
    for i in range(spec.opportunities):
        closed = rng.random() < 1 / 6
        stage = rng.choice(closed_stages) if closed else rng.choice(OPEN_STAGES)
        at = moment()
        parents.append(
            org.load(
                "Opportunity",
                {
                    "Name": f"{rng.choice(_DEAL_WORDS)} deal {i + 1}",
                    "AccountId": rng.choice(accounts) if accounts else None,
                    "StageName": stage,
                    "Amount": float(rng.randrange(1_000, 250_000, 500)),
                    "CloseDate": (at + timedelta(days=rng.randrange(-30, 120))).date(),
                    "OwnerId": rng.choice(owners),
                },
                at=at,
            )["Id"]
        )
    open_statuses = [s for s, closed in CASE_STATUSES.items() if not closed]
    for i in range(spec.cases):
        status = "Closed" if rng.random() < 0.25 else rng.choice(open_statuses)
        parents.append(
            org.load(
                "Case",
                {
                    "Subject": f"{rng.choice(_CASE_SUBJECTS)} #{i + 1}",
                    "Status": status,
                    "Origin": rng.choice(("Phone", "Email", "Web")),
                    "AccountId": rng.choice(accounts) if accounts else None,
                    "OwnerId": rng.choice(owners),
                },
                at=moment(),
            )["Id"]
        )
    open_task_statuses = [s for s, closed in TASK_STATUSES.items() if not closed]
    for i in range(spec.activities):
        status = "Completed" if rng.random() < 1 / 3 else rng.choice(open_task_statuses)
        at = moment()
        org.load(
            "Task",
            {
                "Subject": f"{rng.choice(_TASK_SUBJECTS)} {i + 1}",
                "Status": status,
                "WhatId": rng.choice(parents) if parents else None,
                "ActivityDate": (at + timedelta(days=rng.randrange(0, 30))).date(),
                "OwnerId": rng.choice(owners),
            },
            at=at,
        )
    for i in range(spec.events):
        at = moment()
        start = now + timedelta(hours=rng.randrange(-24 * 14, 24 * 21))
        org.load(
            "Event",
            {
                "Subject": f"{rng.choice(_EVENT_SUBJECTS)} {i + 1}",
                "WhatId": rng.choice(parents) if parents else None,
                "StartDateTime": start.replace(minute=0, second=0, microsecond=0),
                "DurationInMinutes": rng.choice((30, 60, 90)),
                "OwnerId": rng.choice(owners),
            },
            at=min(at, start),
        )


def seed_demo(org: Org, now: datetime, *, api_disabled_user: bool = False) -> None:
    """A small, realistic org: five accounts, twelve opportunities across the stages (two won,
    one lost, one closed as a duplicate), eight cases (two closed), thirty activities and six
    meetings (events) on opportunities and cases, three over and three to come."""
    seed_users(org, 3, api_disabled_user=api_disabled_user)
    users = [u["Id"] for u in org.users()]

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    accounts = {
        name: org.load(
            "Account",
            {"Name": name, "Industry": industry, "BillingCity": city, "Type": "Customer - Direct"},
            at=ago(40 + i),
        )["Id"]
        for i, (name, industry, city) in enumerate(_DEMO_ACCOUNTS)
    }
    opportunities = []
    for i, (name, account, stage, amount, close_in_days) in enumerate(_DEMO_OPPORTUNITIES):
        at = ago(25 - i * 1.5)
        opportunities.append(
            org.load(
                "Opportunity",
                {
                    "Name": name,
                    "AccountId": accounts[account],
                    "StageName": stage,
                    "Amount": amount,
                    "CloseDate": (now + timedelta(days=close_in_days)).date(),
                    "OwnerId": users[i % len(users)],
                },
                at=at,
            )["Id"]
        )
    cases = []
    for i, (subject, account, status, priority) in enumerate(_DEMO_CASES):
        cases.append(
            org.load(
                "Case",
                {
                    "Subject": subject,
                    "AccountId": accounts[account],
                    "Status": status,
                    "Priority": priority,
                    "Origin": ("Email", "Phone", "Web")[i % 3],
                    "OwnerId": users[(i + 1) % len(users)],
                },
                at=ago(18 - i * 2),
            )["Id"]
        )
    parents = opportunities + cases
    for i in range(30):
        subject = _DEMO_TASKS[i % len(_DEMO_TASKS)]
        status = "Completed" if i % 4 == 0 else ("Not Started", "In Progress")[i % 2]
        at = ago(12 - i * 0.35)
        org.load(
            "Task",
            {
                "Subject": subject,
                "Status": status,
                "WhatId": parents[i % len(parents)],
                "ActivityDate": (at + timedelta(days=3)).date(),
                "OwnerId": users[i % len(users)],
            },
            at=at,
        )
    hour = now.replace(minute=0, second=0, microsecond=0)
    for i, (subject, parent, in_hours, minutes) in enumerate(_DEMO_EVENTS):
        start = hour + timedelta(hours=in_hours)
        org.load(
            "Event",
            {
                "Subject": subject,
                "WhatId": parents[parent],
                "StartDateTime": start,
                "DurationInMinutes": minutes,
                "OwnerId": users[i % len(users)],
            },
            at=min(ago(10 - i), start - timedelta(days=1)),
        )


_DEMO_ACCOUNTS = (
    ("Acme Corporation", "Manufacturing", "Chicago"),
    ("Globex Industries", "Energy", "Springfield"),
    ("Initech", "Technology", "Austin"),
    ("Umbrella Health", "Healthcare", "Boston"),
    ("Stark Logistics", "Transportation", "Rotterdam"),
)
_DEMO_OPPORTUNITIES = (
    ("Acme - 200 seat renewal", "Acme Corporation", "Negotiation/Review", 84_000.0, 20),
    ("Acme - plant rollout phase 2", "Acme Corporation", "Proposal/Price Quote", 126_500.0, 45),
    ("Globex - grid analytics pilot", "Globex Industries", "Qualification", 18_000.0, 60),
    ("Globex - field service upgrade", "Globex Industries", "Closed Won", 56_250.0, -10),
    ("Initech - TPS report automation", "Initech", "Needs Analysis", 12_400.0, 30),
    ("Initech - office expansion", "Initech", "Closed - Duplicate", 12_400.0, -5),
    ("Umbrella - clinic scheduling", "Umbrella Health", "Value Proposition", 73_000.0, 75),
    ("Umbrella - lab integration", "Umbrella Health", "Closed Lost", 41_000.0, -20),
    ("Stark - fleet tracking", "Stark Logistics", "Id. Decision Makers", 99_900.0, 50),
    ("Stark - warehouse sensors", "Stark Logistics", "Prospecting", 22_000.0, 90),
    ("Acme - support plan 2027", "Acme Corporation", "Closed Won", 15_000.0, -3),
    ("Globex - training days", "Globex Industries", "Perception Analysis", 8_500.0, 25),
)
_DEMO_CASES = (
    ("Login page times out", "Acme Corporation", "New", "High"),
    ("Invoice shows wrong VAT", "Globex Industries", "Working", "Medium"),
    ("Export to CSV misses a column", "Initech", "Closed", "Low"),
    ("Mobile app crashes on sync", "Umbrella Health", "Escalated", "High"),
    ("Password reset email not received", "Stark Logistics", "Working", "Medium"),
    ("Dashboard loads slowly", "Acme Corporation", "New", "Medium"),
    ("Add second billing contact", "Globex Industries", "Closed", "Low"),
    ("SSO setup for new subsidiary", "Umbrella Health", "New", "Medium"),
)
_DEMO_TASKS = (
    "Discovery call",
    "Send pricing proposal",
    "Follow-up email",
    "Prepare demo environment",
    "Technical deep dive",
    "Contract review with legal",
    "Reproduce the issue",
    "Call customer back",
    "Write up workaround",
    "Quarterly business review",
)
# Subject, index into opportunities + cases, start in hours from now, duration in minutes.
_DEMO_EVENTS = (
    ("Kick-off meeting", 0, -72, 60),
    ("Pricing workshop", 1, -26, 90),
    ("Escalation call", 12, -3, 30),
    ("Contract signing", 0, 20, 45),
    ("On-site demo", 6, 50, 120),
    ("Support review", 15, 96, 60),
)
_COMPANY_WORDS = ("Blue", "North", "Silver", "Rapid", "Green", "Bright", "Prime", "Atlas", "Nova")
_COMPANY_KINDS = ("Systems", "Foods", "Logistics", "Health", "Energy", "Labs", "Partners")
_INDUSTRIES = ("Technology", "Manufacturing", "Healthcare", "Energy", "Retail", "Finance")
_DEAL_WORDS = ("Renewal", "Expansion", "Pilot", "Upgrade", "Migration", "Rollout", "Add-on")
_CASE_SUBJECTS = ("Cannot log in", "Billing question", "Feature request", "Bug report", "Outage")
_EVENT_SUBJECTS = ("Kick-off", "Workshop", "Demo", "Review call", "On-site visit", "Check-in")
_TASK_SUBJECTS = ("Call", "Email", "Meeting", "Follow-up", "Demo", "Review", "Send quote")
