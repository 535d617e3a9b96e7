"""The domain objects one running app uses, built once over one store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .account_settings import AccountSettings
from .accounts import Accounts
from .idempotency import Idempotency
from .keys import Cipher, load_secret_key
from .reports import Reports
from .settings import Settings
from .store import Store
from .sync.importer import archive_imported_records
from .sync.integration import Integrations
from .sync.oauth import ConnectedApp, SalesforceOAuth
from .sync.runs import Syncs
from .sync.scheduler import SyncScheduler
from .sync.tls import Trust
from .tracking import Tracking
from .tree import Tree

CALLBACK_PATH = "/oauth/salesforce/callback"


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    accounts: Accounts
    account_settings: AccountSettings
    tree: Tree
    tracking: Tracking
    reports: Reports
    integrations: Integrations
    syncs: Syncs
    scheduler: SyncScheduler
    idempotency: Idempotency

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Services:
        accounts = Accounts(store, token_idle=dt.timedelta(days=settings.token_idle_days))
        tree = Tree(store, accounts)
        tracking = Tracking(store, tree)
        account_settings = AccountSettings(store)
        trust = Trust.build(settings.salesforce_ca_bundle, settings.data_dir)
        oauth = None
        if settings.salesforce_client_id and settings.salesforce_client_secret:
            app = ConnectedApp(
                client_id=settings.salesforce_client_id,
                client_secret=settings.salesforce_client_secret,
                login_url=settings.salesforce_login_url,
                sandbox_login_url=settings.salesforce_sandbox_login_url,
                redirect_uri=settings.base_url + CALLBACK_PATH,
            )
            oauth = SalesforceOAuth(app, trust)
        integrations = Integrations(
            store,
            oauth,
            Cipher(load_secret_key(settings.secret_key, settings.data_dir)),
            trust,
            settings.salesforce_api_version,
        )
        syncs = Syncs(store, tree, integrations)

        async def first_import(account_id: str) -> None:
            await syncs.start(account_id, "connect")

        async def forget_old_org(account_id: str) -> None:
            await archive_imported_records(store, tree, account_id)

        integrations.on_connected = first_import
        integrations.on_org_changed = forget_old_org
        return cls(
            settings=settings,
            store=store,
            accounts=accounts,
            account_settings=account_settings,
            tree=tree,
            tracking=tracking,
            reports=Reports(accounts, tree, tracking, account_settings),
            integrations=integrations,
            syncs=syncs,
            scheduler=SyncScheduler(store, syncs, settings.sync_interval_seconds),
            idempotency=Idempotency(store.idempotency_keys),
        )
