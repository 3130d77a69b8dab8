"""Webim's gRPC service ``hub.webim.v1.Webim``, a thin adapter over :class:`WebimService`."""

from __future__ import annotations

import re
from typing import Any, TypeAlias

import grpc

from hub.grpc.server import authorization
from hub.records import sent_fields
from hub_webim.service import WebimService
from hub_webim.storage import ALL_COUNTERS
from hub_webim.v1 import webim_pb2, webim_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def _counters(row: dict[str, Any]) -> webim_pb2.Counters:
    return webim_pb2.Counters(**{c: row[c] for c in ALL_COUNTERS})


def _account(row: dict[str, Any]) -> webim_pb2.Account:
    return webim_pb2.Account(
        name=row["name"],
        domain=row["domain"],
        counters=_counters(row),
        not_belongs_to_tornado_instance=row["not_belongs_to_tornado_instance"],
        ignore_not_belongs_to_tornado_instance=row["ignore_not_belongs_to_tornado_instance"],
        blocked=row["blocked"],
    )


def _objects(counts: dict[str, int]) -> webim_pb2.ObjectCounts:
    return webim_pb2.ObjectCounts(
        objects=[webim_pb2.ObjectCount(class_name=k, count=v) for k, v in counts.items()]
    )


def _channels(channels: dict[str, dict[str, int]]) -> webim_pb2.ZabbixChannels:
    return webim_pb2.ZabbixChannels(
        channels=[
            webim_pb2.ChannelErrors(channel=k, error_cnt=v["error_cnt"])
            for k, v in channels.items()
        ]
    )


def _bearer(context: Context) -> str | None:
    scheme, _, value = (authorization(context) or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _log_level(level: dict[str, str]) -> webim_pb2.LogLevel:
    return webim_pb2.LogLevel(**level)


class WebimServicer(webim_pb2_grpc.WebimServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(WebimService)

    def _reader(self, context: Context) -> WebimService:
        self.service.authorize(authorization(context))
        return self.service

    def _admin(self, context: Context) -> WebimService:
        self.service.authorize_admin(authorization(context))
        return self.service

    # -- reads -----------------------------------------------------------------------------
    async def GetMonitor(self, request: Any, context: Context) -> Any:
        data = self._reader(context).monitor()
        main = webim_pb2.MainInfo(**{_snake(k): v for k, v in data["mainInfo"].items()})
        return webim_pb2.Monitor(main_info=main, host=data["host"])

    async def ConnectToDb(self, request: Any, context: Context) -> Any:
        return webim_pb2.Result(**self._reader(context).connect_to_db())

    async def Ping(self, request: Any, context: Context) -> Any:
        self.service.authorize_operator(request.auth_token or _bearer(context))
        return webim_pb2.Result(**self.service.ping(request.pinger_id, request.ts))

    async def GetTimerStats(self, request: Any, context: Context) -> Any:
        stats = self._reader(context).timer_stats()
        return webim_pb2.TimerStats(
            last_min=[webim_pb2.TimerLastMin(timer=k, **v) for k, v in stats["last_min"].items()],
            failed=[webim_pb2.TimerFailure(**f) for f in stats["failed"]],
        )

    async def GetAccountsStat(self, request: Any, context: Context) -> Any:
        service = self._reader(context)
        accounts = service.accounts()
        total = service.total(accounts)
        return webim_pb2.AccountsStat(
            total=webim_pb2.AccountsTotal(
                name=total["name"],
                counters=_counters(total),
                not_belongs_to_tornado_instance=total["not_belongs_to_tornado_instance"],
            ),
            accounts=[_account(a) for a in accounts],
        )

    async def GetZabbixTornado(self, request: Any, context: Context) -> Any:
        return webim_pb2.ZabbixTornado(**self._reader(context).zabbix_tornado())

    async def GetZabbixChannels(self, request: Any, context: Context) -> Any:
        return _channels(self._reader(context).channels())

    async def GetCollectedToStoreObjects(self, request: Any, context: Context) -> Any:
        query = {
            "mode": request.mode,
            "account_name": request.account_name,
            "collector_name": request.collector_name,
            "num": request.num,
        }
        return _objects(self._reader(context).collected_to_store_objects(query))

    async def GetObjectStats(self, request: Any, context: Context) -> Any:
        return _objects(await self._reader(context).object_stats())

    async def GetInstanceId(self, request: Any, context: Context) -> Any:
        return webim_pb2.InstanceId(instance_id=self._reader(context).instance_id)

    async def GetAccountState(self, request: Any, context: Context) -> Any:
        state = self._reader(context).account_state(
            request.action, request.account or None, request.host or None
        )
        return webim_pb2.AccountState(**state)

    async def GetTornadoPorts(self, request: Any, context: Context) -> Any:
        return webim_pb2.TornadoPorts(ports=self._reader(context).tornado_ports())

    async def ListEnvironments(self, request: Any, context: Context) -> Any:
        envs = self._reader(context).environments()
        return webim_pb2.Environments(environments=[webim_pb2.Environment(**e) for e in envs])

    async def GetInfo(self, request: Any, context: Context) -> Any:
        values = self._reader(context).info(request.host or None)
        return webim_pb2.Info(
            entries=[webim_pb2.InfoEntry(key=k, value=v) for k, v in values.items()]
        )

    async def SetLogLevel(self, request: Any, context: Context) -> Any:
        service = self._reader(context)
        current = request.current_node_only if request.HasField("current_node_only") else None
        service.set_log_level(request.name, request.level, current)
        return _log_level(service.log_level(request.name))

    async def GetLogLevel(self, request: Any, context: Context) -> Any:
        return _log_level(self._reader(context).log_level(request.name))

    # -- admin writes ---------------------------------------------------------------------
    async def UpsertAccount(self, request: Any, context: Context) -> Any:
        return _account(self._admin(context).upsert_account(sent_fields(request)))

    async def DeleteAccount(self, request: Any, context: Context) -> Any:
        self._admin(context).delete_account(request.name)
        return webim_pb2.Empty()

    async def SetAccountCounters(self, request: Any, context: Context) -> Any:
        counters = {c.counter: c.value for c in request.counters}
        return _account(self._admin(context).set_counters(request.name, counters))

    async def SetStoreObjects(self, request: Any, context: Context) -> Any:
        objects = {o.class_name: o.count for o in request.objects}
        service = self._admin(context)
        return _objects(service.set_store_objects(request.account, request.collector, objects))

    async def SetChannelErrors(self, request: Any, context: Context) -> Any:
        return _channels(
            self._admin(context).set_channel_errors(request.channel, request.error_cnt)
        )

    async def UpsertEnvironment(self, request: Any, context: Context) -> Any:
        data = {"host": request.host, "env": request.env, "ip": request.ip}
        return webim_pb2.Environment(**self._admin(context).upsert_environment(data))

    async def DeleteEnvironment(self, request: Any, context: Context) -> Any:
        self._admin(context).delete_environment(request.host, request.env)
        return webim_pb2.Empty()

    async def RecordLongPolling(self, request: Any, context: Context) -> Any:
        result = self._admin(context).record_long_polling(request.tries)
        return webim_pb2.LongPolling(avg_n_tries=result["avgNTries"], n=result["n"])
