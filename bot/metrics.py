"""Prometheus metrics (prometheus-client), one registry per app so tests can run several."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxItem

# No `*_created` series (the time each counter and histogram was created, under the same help
# text as the metric): they only confused readers of /metrics. A process-wide switch.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("casebot_events", "Inbound events by platform, kind and outcome",
                              ["platform", "kind", "status"], registry=r)
        self.handler_seconds = Histogram(
            "casebot_handler_seconds", "Time to handle one inbound event (whole transaction)",
            ["kind"], registry=r,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.sends = Counter("casebot_sends", "Outbound deliveries by transport and result",
                             ["transport", "result"], registry=r)
        self.outbox_depth = Gauge("casebot_outbox_depth", "Outbox items not yet delivered",
                                  registry=r)
        self.outbox_oldest = Gauge("casebot_outbox_oldest_age_seconds",
                                   "Age of the oldest undelivered outbox item", registry=r)
        self.reminders_due = Counter("casebot_reminders_due", "Reminders claimed by a sweep",
                                     registry=r)
        self.journal_batch = Histogram(
            "casebot_journal_batch_events", "Read-only events written per journal transaction",
            registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.reminders_sent = Counter("casebot_reminders_sent", "Reminder messages written",
                                      registry=r)
        self.dingtalk_connected: Gauge | None = None  # see dingtalk_stream()
        self.dingtalk_failures: Counter | None = None

    def dingtalk_stream(self, reasons: tuple[str, ...]) -> tuple[Gauge, Counter]:
        """The DingTalk Stream series, registered only where the stream runs: an instance
        without it has no `connected 0` to alert on."""
        if self.dingtalk_connected is None or self.dingtalk_failures is None:
            self.dingtalk_connected = Gauge(
                "casebot_dingtalk_stream_connected",
                "1 while the DingTalk Stream connection is up, else 0", registry=self.registry)
            self.dingtalk_failures = Counter(
                "casebot_dingtalk_stream_failures",
                "DingTalk Stream connection attempts that failed, and connections dropped, "
                "by reason", ["reason"], registry=self.registry)
            for reason in reasons:  # every series from 0, so rate() sees the first failure
                self.dingtalk_failures.labels(reason)
        return self.dingtalk_connected, self.dingtalk_failures

    async def refresh_outbox(self, session: AsyncSession, now_ts: float) -> None:
        row = (await session.execute(
            select(func.count(), func.min(OutboxItem.created_at))
            .where(OutboxItem.status.in_(("pending", "sending"))))).one()
        self.outbox_depth.set(row[0])
        self.outbox_oldest.set(max(0.0, now_ts - row[1].timestamp()) if row[1] else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
