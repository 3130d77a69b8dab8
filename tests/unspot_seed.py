"""The seed's example responses (000_…, "Примеры ответов"), verbatim: two-space JSON, no
trailing newline. Blocks the seed splits across a page break are joined; the full response's
broken indentation is page layout too, so it is kept as data, not bytes."""

from __future__ import annotations

from typing import Any

DISPLAYS_ONE = b"""{
  "message": "OK",
  "body": {
    "displays": [
      {
        "id": "ffj49djjee64",
        "name": "404f25",
        "status": "online"
      }
    ]
  }
}"""

DISPLAYS_NONE = b"""{
  "message": "OK",
  "body": {
    "displays": []
  }
}"""

CALENDARS = b"""{
  "message": "OK",
  "body": {
    "calendars": {
      "total": 100,
      "online": 95,
      "offline": 5
    }
  }
}"""

WEBHOOKS = b"""{
  "message": "OK",
  "body": {
    "webhooks": {
      "total": 20,
      "online": 15,
      "failed": 3,
      "disabled": 2
    }
  }
}"""

WEBHOOKS_NONE = b"""{
  "message": "OK",
  "body": {
    "webhooks": {
      "total": 0,
      "online": 0,
      "failed": 0,
      "disabled": 0
    }
  }
}"""

USER_SYNC = b"""{
  "message": "OK",
  "body": {
    "userSync": {
      "lastSyncDate": "2026-02-04T11:41:39+00:00"
    }
  }
}"""

USER_SYNC_DISABLED = b"""{
  "message": "OK",
  "body": {
    "userSync": {
      "lastSyncDate": null
    }
  }
}"""

SYSTEM = b"""{
  "message": "OK",
  "body": {
    "system": {
      "redis": "online",
      "database": "online",
      "filesystem": "online",
      "queue": [
        {
          "name": "common",
          "messages": 0
        }
      ]
    }
  }
}"""

SEED_QUEUE_NAMES = [
    "common",
    "async",
    "usersync",
    "assignbookings",
    "notification",
    "notification_low",
    "webhooks",
    "business_logger",
    "event",
]

FULL: dict[str, Any] = {
    "message": "OK",
    "body": {
        "displays": [
            {"id": "ffj49djjee64", "name": "404f25", "status": "online"},
            {"id": "45Dcvf9fjdew", "name": "Gf5643", "status": "offline"},
        ],
        "calendars": {"total": 100, "online": 95, "offline": 5},
        "webhooks": {"total": 20, "online": 15, "failed": 3, "disabled": 2},
        "userSync": {"lastSyncDate": "2026-02-04T11:41:39+00:00"},
        "system": {
            "redis": "online",
            "database": "online",
            "filesystem": "online",
            "queue": [{"name": name, "messages": 0} for name in SEED_QUEUE_NAMES],
        },
    },
}
