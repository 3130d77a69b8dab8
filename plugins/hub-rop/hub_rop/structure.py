"""The CRM's structure: offices (replaced whole) and managers (upserted), as the CRM sends them."""

from __future__ import annotations

import time
from typing import Any

from hub.paging import Page
from hub.storage import Database
from hub_rop import inputs
from hub_rop.records import Manager, ManagersUpdate, Office, OfficesUpdate
from hub_rop.storage import Listing, read_page

ROLES = (("leader", "leader_ids"), ("manager", "managers_ids"))


class Structure:
    def __init__(self, database: Database) -> None:
        self.database = database

    def replace_offices(self, data: Any) -> OfficesUpdate:
        """Replace the whole office structure in one transaction."""
        offices = inputs.offices(data)
        with self.database.write() as db:
            db.execute("DELETE FROM office_members")
            db.execute("DELETE FROM offices")
            for position, office in enumerate(offices):
                db.execute(
                    "INSERT INTO offices (position, office_id, office_title) VALUES (?, ?, ?)",
                    (position, office["office_id"], office["office_title"]),
                )
                db.executemany(
                    "INSERT INTO office_members (office_id, role, member_id, position)"
                    " VALUES (?, ?, ?, ?)",
                    [
                        (office["office_id"], role, member, i)
                        for role, key in ROLES
                        for i, member in enumerate(office[key])
                    ],
                )
        return OfficesUpdate(
            status="ok",
            offices=len(offices),
            leaders=sum(len(o["leader_ids"]) for o in offices),
            managers=sum(len(o["managers_ids"]) for o in offices),
        )

    def upsert_managers(self, data: Any) -> ManagersUpdate:
        """Insert new managers and update known ones; the others stay."""
        managers = inputs.managers(data)
        created = 0
        now = time.time()
        with self.database.write() as db:
            for m in managers:
                known = db.execute(
                    "SELECT 1 FROM managers WHERE manager_id = ?", (m["manager_id"],)
                ).fetchone()
                created += known is None
                db.execute(
                    "INSERT INTO managers (manager_id, name, surname, middlename, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(manager_id) DO UPDATE SET"
                    " name = excluded.name, surname = excluded.surname,"
                    " middlename = excluded.middlename, updated_at = excluded.updated_at",
                    (m["manager_id"], m["name"], m["surname"], m["middlename"], now),
                )
        return ManagersUpdate(
            status="ok",
            received=len(managers),
            created=created,
            updated=len(managers) - created,
        )

    def offices(self) -> list[Office]:
        members: dict[str, dict[str, list[str]]] = {}
        for office_id, role, member in self.database.execute(
            "SELECT office_id, role, member_id FROM office_members ORDER BY position"
        ):
            members.setdefault(office_id, {}).setdefault(role, []).append(member)
        return [
            Office(
                office_id,
                title,
                leader_ids=tuple(members.get(office_id, {}).get("leader", [])),
                managers_ids=tuple(members.get(office_id, {}).get("manager", [])),
            )
            for office_id, title in self.database.execute(
                "SELECT office_id, office_title FROM offices ORDER BY position"
            )
        ]

    def managers(self, page: Page) -> Listing[Manager]:
        """Managers in the order they were first sent."""
        columns = "manager_id, name, surname, middlename"
        return read_page(self.database, "managers", columns, page, lambda row: Manager(*row))
