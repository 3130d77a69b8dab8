"""What Webim reports of the running hub: this instance's facts (monitor's ``mainInfo``,
info.php), the port its endpoints answer on, and every periodic job's last minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub import __version__ as hub_version
from hub.api import HubApi
from hub_webim import system
from hub_webim.errors import PLUGIN
from hub_webim.records import Info, LongPolling, MainInfo, TimerFailure, TimerLastMin, TimerStats
from hub_webim.settings import WebimSettings


@dataclass(frozen=True)
class Instance:
    """This chat backend as it started: a new ``TORNADO_INSTANCE_ID`` at every start, the
    process's start time, the OS, and the names the settings give (else the machine's)."""

    settings: WebimSettings
    instance_id: str
    start_ts: float
    os: dict[str, str]
    env: str
    host: str
    version: str

    @classmethod
    def starting(cls, hub: HubApi, settings: WebimSettings) -> Instance:
        """The hub's start: in a multi-worker hub every worker reports its supervisor's."""
        return cls(
            settings=settings,
            instance_id=hub.instance_id,
            start_ts=hub.started_at,
            os=system.os_release(),
            env=settings.env or system.short_hostname(),
            host=settings.host or system.fqdn(),
            version=settings.version or hub_version,
        )


def port(hub: HubApi) -> int:
    """The port Webim's endpoints answer on: the plugin's own listener, else the hub's."""
    address = hub.listening.get(f"http:{PLUGIN}") or hub.listening.get("http")
    return int(address[1]) if address else 0


def tornado_ports(hub: HubApi) -> list[str]:
    """The ports where Webim's endpoints answer: one, its own listener's or the hub's (the
    gRPC port and other plugins' listeners do not serve them)."""
    serving = port(hub)
    return [str(serving)] if serving else []


def main_info(
    hub: HubApi, instance: Instance, polling: LongPolling, storing_enabled: bool
) -> MainInfo:
    s = instance.settings
    return MainInfo(
        env=instance.env,
        port=port(hub),
        multinode_mode=s.multinode_mode,
        node_name=s.node_name,
        start_ts=instance.start_ts,
        start_time=datetime.fromtimestamp(instance.start_ts).strftime("%d-%m-%Y %H:%M:%S"),
        version=instance.version,
        os_name=instance.os["NAME"],
        os_version=instance.os["VERSION_ID"],
        ubuntu_version=instance.os["VERSION_ID"] if instance.os["ID"] == "ubuntu" else "",
        branch=s.branch,
        revision=s.revision,
        tag=s.tag,
        avg_n_tries=polling.avg_n_tries,
        n=polling.n,
        storing_enabled=storing_enabled,
    )


def info_php(hub: HubApi, instance: Instance, account: str | None, scheme: str) -> Info:
    """The 12 keys of ``info.php``; ``None`` (PHP's NULL) where there is no value."""
    s = instance.settings
    main = hub.listening.get("http")
    return Info(
        tornado_port=str(port(hub)),
        agent_backend_port=str(main[1]) if main else str(port(hub)),
        account_name=account,
        script_location=instance.env,
        tornado_location=s.node_name,
        server=system.short_hostname() + "\n",  # PHP's shell_exec("hostname")
        branch=s.branch + "\n" if s.branch else None,
        revision=s.revision + "\n" if s.revision else None,
        version=instance.version,
        https=f"{scheme}://",
        uptime=system.uptime_line(),
        connections=None,
    )


def timer_stats(hub: HubApi) -> TimerStats:
    """Every timer of the host's registry, also those that did not run in the last minute;
    failures oldest first."""
    last_min: list[TimerLastMin] = []
    failed: list[TimerFailure] = []
    for stats in hub.timers.stats():
        key = f"{stats['plugin']}.{stats['name']}"
        runs = stats["last_min"]
        last_min.append(
            TimerLastMin(
                timer=f"timer: {key}",
                count=len(runs),
                execution_times=tuple(r["duration"] for r in runs),
                func_name=stats["func_name"],
            )
        )
        failed.extend(
            TimerFailure(
                timer_name=key,
                func_name=stats["func_name"],
                execution_time=f["duration"],
                ts=f["ts"],
            )
            for f in stats["failed"]
        )
    failed.sort(key=lambda f: f.ts)
    return TimerStats(last_min=tuple(last_min), failed=tuple(failed))
