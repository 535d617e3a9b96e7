"""The domain objects one running app uses, built once over one store."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import Accounts
from .reports import Reports
from .settings import Settings
from .store import Store
from .tracking import Tracking
from .tree import Tree


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    accounts: Accounts
    tree: Tree
    tracking: Tracking
    reports: Reports

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Services:
        accounts = Accounts(store)
        tree = Tree(store, accounts)
        tracking = Tracking(store, tree)
        return cls(
            settings=settings,
            store=store,
            accounts=accounts,
            tree=tree,
            tracking=tracking,
            reports=Reports(accounts, tree, tracking),
        )
