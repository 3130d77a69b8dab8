"""Webim's gRPC service ``hub.webim.v1.Webim``, a thin adapter over :class:`WebimService`:
records become messages through ``hub.records.to_message``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import grpc

from hub.api import HubApi
from hub.caller import caller_of
from hub.records import sent_fields, to_message
from hub_webim.records import ObjectCount
from hub_webim.service import WebimService
from hub_webim.v1 import webim_pb2 as pb
from hub_webim.v1 import webim_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


def _objects(objects: Sequence[ObjectCount]) -> pb.ObjectCounts:
    return to_message(pb.ObjectCounts, {"objects": objects})


class WebimServicer(webim_pb2_grpc.WebimServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service = hub.service(WebimService)

    # -- reads -----------------------------------------------------------------------------
    async def GetMonitor(self, request: Any, context: Context) -> Any:
        return to_message(pb.Monitor, await self.service.monitor(caller_of(context)))

    async def ConnectToDb(self, request: Any, context: Context) -> Any:
        return to_message(pb.Result, await self.service.connect_to_db(caller_of(context)))

    async def Ping(self, request: Any, context: Context) -> Any:
        result = await self.service.ping(
            caller_of(context), request.pinger_id, request.ts, auth_token=request.auth_token
        )
        return to_message(pb.Result, result)

    async def GetTimerStats(self, request: Any, context: Context) -> Any:
        return to_message(pb.TimerStats, await self.service.timer_stats(caller_of(context)))

    async def GetAccountsStat(self, request: Any, context: Context) -> Any:
        return to_message(pb.AccountsStat, await self.service.accounts_stat(caller_of(context)))

    async def GetZabbixTornado(self, request: Any, context: Context) -> Any:
        return to_message(pb.ZabbixTornado, await self.service.zabbix_tornado(caller_of(context)))

    async def GetZabbixChannels(self, request: Any, context: Context) -> Any:
        channels = await self.service.channels(caller_of(context))
        return to_message(pb.ZabbixChannels, {"channels": channels})

    async def GetCollectedToStoreObjects(self, request: Any, context: Context) -> Any:
        objects = await self.service.collected_to_store_objects(
            caller_of(context),
            request.mode,
            request.account_name,
            request.collector_name,
            request.num,
        )
        return _objects(objects)

    async def GetObjectStats(self, request: Any, context: Context) -> Any:
        return _objects(await self.service.object_stats(caller_of(context)))

    async def GetInstanceId(self, request: Any, context: Context) -> Any:
        return pb.InstanceId(instance_id=await self.service.instance_id(caller_of(context)))

    async def GetAccountState(self, request: Any, context: Context) -> Any:
        state = await self.service.account_state(
            caller_of(context), request.action, request.account or None, request.host or None
        )
        return to_message(pb.AccountState, state)

    async def GetTornadoPorts(self, request: Any, context: Context) -> Any:
        return pb.TornadoPorts(ports=await self.service.tornado_ports(caller_of(context)))

    async def ListEnvironments(self, request: Any, context: Context) -> Any:
        environments = await self.service.environments(caller_of(context))
        return to_message(pb.Environments, {"environments": environments})

    async def GetInfo(self, request: Any, context: Context) -> Any:
        info = await self.service.info(caller_of(context), request.host or None)
        return pb.Info(entries=[pb.InfoEntry(key=k, value=v) for k, v in info.php_array().items()])

    async def SetLogLevel(self, request: Any, context: Context) -> Any:
        current = request.current_node_only if request.HasField("current_node_only") else None
        changed = await self.service.set_log_level_and_read(
            caller_of(context), request.name, request.level, current
        )
        return to_message(pb.LogLevel, changed)

    async def GetLogLevel(self, request: Any, context: Context) -> Any:
        return to_message(pb.LogLevel, self.service.log_level(caller_of(context), request.name))

    # -- admin writes ---------------------------------------------------------------------
    async def UpsertAccount(self, request: Any, context: Context) -> Any:
        account = self.service.upsert_account(caller_of(context), sent_fields(request))
        return to_message(pb.Account, account)

    async def DeleteAccount(self, request: Any, context: Context) -> Any:
        self.service.delete_account(caller_of(context), request.name)
        return pb.Empty()

    async def SetAccountCounters(self, request: Any, context: Context) -> Any:
        counters = tuple((c.counter, c.value) for c in request.counters)  # inputs.Pairs
        account = self.service.set_counters(caller_of(context), request.name, counters)
        return to_message(pb.Account, account)

    async def SetStoreObjects(self, request: Any, context: Context) -> Any:
        objects = tuple((o.class_name, o.count) for o in request.objects)  # inputs.Pairs
        stored = self.service.set_store_objects(
            caller_of(context), request.account, request.collector, objects
        )
        return _objects(stored)

    async def SetChannelErrors(self, request: Any, context: Context) -> Any:
        channels = self.service.set_channel_errors(
            caller_of(context), request.channel, request.error_cnt
        )
        return to_message(pb.ZabbixChannels, {"channels": channels})

    async def UpsertEnvironment(self, request: Any, context: Context) -> Any:
        environment = self.service.upsert_environment(caller_of(context), sent_fields(request))
        return to_message(pb.Environment, environment)

    async def DeleteEnvironment(self, request: Any, context: Context) -> Any:
        self.service.delete_environment(caller_of(context), request.host, request.env)
        return pb.Empty()

    async def RecordLongPolling(self, request: Any, context: Context) -> Any:
        polled = self.service.record_long_polling(caller_of(context), request.tries)
        return to_message(pb.LongPolling, polled)
