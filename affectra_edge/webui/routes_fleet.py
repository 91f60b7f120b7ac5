"""The museum view: ``/fleet`` and ``GET /api/fleet``, every device under the shared MQTT topic
root, from their retained messages (:mod:`affectra_edge.publish.fleet`). Same login as the rest
of the UI and API; nothing here talks to another box directly."""

from __future__ import annotations

import time
from typing import Any

import bottle

from affectra_edge.publish.fleet import SORT_KEYS
from affectra_edge.webui.actions import checked
from affectra_edge.webui.deps import FleetReads
from affectra_edge.webui.i18n import N_
from affectra_edge.webui.validate import as_choice
from affectra_edge.webui.view import View

ORDERS = ("asc", "desc")
#: without MQTT there is no broker to share state through (translated where it is shown)
DISABLED = N_(
    "The fleet view needs MQTT: every box publishing under the same topic root appears here."
)


def fleet_doc(fleet: FleetReads | None, own_prefix: str, sort: str, order: str) -> dict[str, Any]:
    if fleet is None:
        return {"enabled": False, "reason": DISABLED, "devices": [], "count": 0}
    today = time.strftime("%Y-%m-%d")
    rows = [
        {**d.as_json(today=today), "self": d.prefix == own_prefix}
        for d in fleet.devices(sort, order == "desc")
    ]
    status = fleet.status()
    return {
        "enabled": True,
        "root": status["root"],
        "connected": status["connected"],
        "today": today,
        "sort": sort,
        "order": order,
        "count": len(rows),
        "online": sum(1 for r in rows if r["online"]),
        "devices": rows,
    }


def register(app: bottle.Bottle, fleet: FleetReads | None, view: View, *, own_prefix: str) -> None:
    def query() -> tuple[str, str]:
        q = bottle.request.query
        sort = checked(lambda: as_choice(q.get("sort", "room"), "sort", SORT_KEYS))
        order = checked(lambda: as_choice(q.get("order", "asc"), "order", ORDERS))
        return sort, order

    @app.get("/api/fleet")
    def api_fleet(session):
        return fleet_doc(fleet, own_prefix, *query())

    @app.get("/fleet", page=True)
    def fleet_page(session):
        sort, order = query()
        return view.render(
            "fleet.tpl",
            title="Fleet",
            active="fleet",
            session=session,
            fleet=fleet_doc(fleet, own_prefix, sort, order),
        )
