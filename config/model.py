"""The configuration model. Every model forbids unknown keys: a typo is an error, not a no-op."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.domain.reminders import ReminderRule, default_rules
from bot.domain.scoring import Color
from bot.domain.workcal import WorkCalendar

Role = Literal[
    "investigator", "prosecutor", "case_manager", "inspector", "chief", "leader", "admin"
]
ROLE_LABELS: dict[str, str] = {
    "investigator": "侦查人员",
    "prosecutor": "承办检察官",
    "case_manager": "案管部门",
    "inspector": "检务督察",
    "chief": "检察长",
    "leader": "院领导",
    "admin": "管理员",
}
UnitKind = Literal["province", "city", "county", "police"]
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    kind: UnitKind
    parent: str | None = None
    code_prefix: str | None = Field(default=None, pattern=r"^[A-Z]{2,4}$")


class Person(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    unit: str
    # empty: still on the roster (names in the history, chats) but may do nothing, as a
    # 检察长 whose only role a roster import's handover (换任) removed
    roles: tuple[Role, ...]
    ids: dict[Literal["dingtalk", "wecom"], str] = Field(default_factory=dict)

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class Chat(Strict):
    id: str = Field(pattern=r"^g-[a-z0-9-]+$")
    title: str
    members: tuple[str, ...]
    ids: dict[Literal["dingtalk", "wecom"], str] = Field(default_factory=dict)  # platform chat ids


class Org(Strict):
    demo: bool = False
    units: tuple[Unit, ...]
    people: tuple[Person, ...]
    chats: tuple[Chat, ...] = ()

    @model_validator(mode="after")
    def _check_references(self) -> Org:
        unit_ids = _unique([u.id for u in self.units], "units")
        _unique([p.id for p in self.people], "people")
        _unique([c.id for c in self.chats], "chats")
        for i, u in enumerate(self.units):
            if u.parent is not None and u.parent not in unit_ids:
                raise ValueError(f"units[{i}].parent: unknown unit {u.parent!r}")
        kinds = {u.id: u.kind for u in self.units}
        for i, u in enumerate(self.units):
            _check_parent(i, u, kinds)
        people = {p.id for p in self.people}
        for i, p in enumerate(self.people):
            if p.unit not in unit_ids:
                raise ValueError(f"people[{i}].unit: unknown unit {p.unit!r}")
            if "chief" in p.roles and kinds[p.unit] == "police":
                raise ValueError(f"people[{i}].roles: a chief (chief) heads a procuratorate; "
                                 f"{p.unit!r} is a police unit")
        for i, c in enumerate(self.chats):
            for m in c.members:
                if m not in people:
                    raise ValueError(f"chats[{i}].members: unknown person {m!r}")
        # one platform account is one person (else the later one silently takes it over), one
        # code prefix one office (else two offices hand out the same case codes)
        _one_owner("people", [(p.id, p.ids) for p in self.people])
        _one_owner("chats", [(c.id, c.ids) for c in self.chats])
        prefixes: dict[str, str] = {}
        for i, u in enumerate(self.units):
            if u.code_prefix is not None:
                if (other := prefixes.setdefault(u.code_prefix, u.id)) != u.id:
                    raise ValueError(f"units[{i}].code_prefix: {u.code_prefix!r} is already the "
                                     f"code prefix of unit {other!r}")
        return self

    def version_hash(self) -> str:
        """SHA-256 over the canonical JSON of the roster: published with every draw."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()


# The hierarchy: the province at the top, its cities, their county offices; a police unit is
# attached to the procuratorate it works with (its partner office), of any level.
PARENT_KINDS: dict[str, tuple[str, ...]] = {
    "city": ("province",), "county": ("city",), "police": ("province", "city", "county"),
}


def _check_parent(i: int, u: Unit, kinds: Mapping[str, str]) -> None:
    where = f"units[{i}].parent"
    if u.kind == "province":
        if u.parent is not None:
            raise ValueError(f"{where}: the province is at the top and has no parent "
                             f"(got {u.parent!r})")
        return
    allowed = PARENT_KINDS[u.kind]
    if u.parent is None:
        raise ValueError(f"{where}: a {u.kind} unit needs a parent ({' or '.join(allowed)})")
    if kinds[u.parent] not in allowed:
        raise ValueError(f"{where}: a {u.kind} unit's parent must be a {' or '.join(allowed)} "
                         f"unit; {u.parent!r} is a {kinds[u.parent]} unit")


def _one_owner(what: str, entries: Sequence[tuple[str, Mapping[Any, str]]]) -> None:
    """Each platform id (ids.dingtalk, ids.wecom) belongs to one entry of `what`."""
    owners: dict[tuple[str, str], str] = {}
    for i, (entry, ids) in enumerate(entries):
        for platform, pid in ids.items():
            if (other := owners.setdefault((platform, pid), entry)) != entry:
                raise ValueError(f"{what}[{i}].ids.{platform}: {pid!r} is already the "
                                 f"{platform} id of {other!r}")


def _unique(ids: list[str], what: str) -> set[str]:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{what}: duplicate id {i!r}")
        seen.add(i)
    return seen


def _hh_mm(v: Any) -> time:
    """A time of day written HH:MM. Anything else is an error saying so, not pydantic's "input
    is too short" (for "9:00") nor a guess: pydantic would read 540 as seconds, in UTC."""
    if isinstance(v, time):
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{2}:\d{2}", v.strip()):
        try:
            return time.fromisoformat(v.strip())
        except ValueError as e:
            raise ValueError(f"not a valid time: {v!r} ({e}; HH:MM, e.g. 09:00)") from None
    raise ValueError(f"not a time (HH:MM, e.g. 09:00): {v!r}")


ClockTime = Annotated[time, BeforeValidator(_hh_mm)]


class OfficeHours(Strict):
    start: ClockTime = time(9, 0)
    end: ClockTime = time(18, 0)

    @model_validator(mode="after")
    def _order(self) -> OfficeHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class StorageConfig(Strict):
    database_url: str = "sqlite+aiosqlite:///data/casebot.db"
    redis_url: str | None = None
    # every Redis key and channel starts with this: several deployments (or test runs) can
    # share one Redis server without seeing each other's keys
    redis_prefix: str = Field(default="casebot:", pattern=r"^[A-Za-z0-9_.:-]{1,40}$")
    dedupe_ttl_seconds: int = Field(default=600, ge=300)
    # PostgreSQL: a statement (or a connection attempt) with no answer by then fails, and the
    # request answers 503, instead of waiting for ever on a database that stopped answering
    # without closing its connections (a cut-off host). Far above any statement casebot runs.
    statement_timeout_seconds: float = Field(default=60, gt=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _database(cls, v: str) -> str:
        return check_database_url(v)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str | None) -> str | None:
        return None if v is None else check_redis_url(v)


def check_database_url(v: str) -> str:
    """A driver casebot runs on, and for PostgreSQL a database name: without one asyncpg
    connects to the user's default database (often `postgres`, the maintenance database).
    Messages never quote the URL: it may hold a password."""
    if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        scheme = v.partition("://")[0] if "://" in v else ""
        got = f" (got {scheme}://)" if scheme and len(scheme) < 40 else ""
        raise ValueError(f"must start with sqlite+aiosqlite:// or postgresql+asyncpg://{got}")
    if v.startswith("postgresql+asyncpg://"):
        try:
            url = make_url(v)
        except (ArgumentError, ValueError):
            raise ValueError("not a valid URL: postgresql+asyncpg://USER[:PASSWORD]@HOST[:PORT]"
                             "/DATABASE (a port is a number)") from None
        if not url.database:
            raise ValueError("names no database: postgresql+asyncpg://USER@HOST:PORT/DATABASE "
                             "(without one the server's default database is used, e.g. the "
                             "`postgres` maintenance database)")
    return v


def check_redis_url(v: str) -> str:
    """redis:// or rediss:// with a host, or unix:// with a socket path, and a database index
    that is a number: redis-py silently uses database 0 for `/seven` (another tenant's, on a
    shared server). Whether the server has that many databases is checked at start. Messages
    never quote the URL: it may hold a password."""
    parts = urlsplit(v)
    if parts.scheme not in ("redis", "rediss", "unix") or not v.startswith(f"{parts.scheme}://"):
        raise ValueError("must start with redis://, rediss:// or unix://")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("the port is not a number (redis://HOST:PORT/DB)") from None
    db: list[str] = []
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("names no socket: unix:///PATH/TO/redis.sock?db=N")
    else:
        if not parts.hostname:
            raise ValueError("names no host: redis://HOST:PORT/DB")
        if parts.path not in ("", "/"):
            db.append(parts.path[1:])
    db += [value for key, value in parse_qsl(parts.query, keep_blank_values=True)
           if key == "db"]
    for index in db:
        if not index.isdigit() or not index.isascii():
            raise ValueError(f"database {index[:20]!r} is not a number: the database index is "
                             "a whole number from 0 (redis://HOST:PORT/DB, e.g. /0)")
    return v


_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")


# a server sees a handful of Host values and peer addresses: the middlewares check each request
HOSTS_CACHED = 1024


@lru_cache(maxsize=HOSTS_CACHED)
def host_name(host: str) -> str | None:
    """The name or address in a Host header value (``Example.org:8080`` → ``example.org``,
    ``[::1]:80`` → ``::1``), lower case, without a trailing dot; None when it is not one."""
    m = _HOST.fullmatch(host.strip())
    if m is None:
        return None
    return m.group(1).strip("[]").lower().rstrip(".") or None


@lru_cache(maxsize=HOSTS_CACHED)
def is_loopback(host: str) -> bool:
    """A name or address that stays on this machine: localhost, 127.0.0.0/8, ::1 (an
    IPv4-mapped ::ffff:127.x too). 0.0.0.0 and :: (every interface) are not."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_http_url(v: str) -> str:
    """An http(s) URL with a host (a bare `api.dingtalk.com` would fail every request)."""
    if not v.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("not a valid URL (http[s]://HOST[:PORT], a port is a number)") from None
    if not parts.hostname:
        raise ValueError("names no host: http[s]://HOST[:PORT]")
    return v


class ConsoleConfig(Strict):
    # None (the default): on unless a chat platform is enabled. The console has no passwords:
    # whoever reaches the port can act as anyone, so a deployment on DingTalk leaves it off.
    enabled: bool | None = None
    test_clock: bool = False
    # False: only a loopback peer (127.0.0.0/8, ::1) gets /console and /console/api/*, 403 for
    # the rest. True: anyone who can reach the port can act as any user (a shared test bed).
    allow_remote: bool = False


class DingTalkStreamConfig(Strict):
    """Stream-mode connection hygiene; every duration is configurable so tests run fast."""

    reconnect_min_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=60.0, gt=0)
    stable_seconds: float = Field(default=30.0, gt=0)  # a connection this old resets the backoff
    ping_interval_seconds: float = Field(default=20.0, gt=0)  # our websocket ping
    watchdog_seconds: float = Field(default=90.0, gt=0)  # no frame and no pong this long: reconnect
    open_timeout_seconds: float = Field(default=10.0, gt=0)
    # /readyz answers 503 once the stream has been down this long (since start or a drop)
    ready_grace_seconds: float = Field(default=60.0, ge=0)
    max_inflight: int = Field(default=16, ge=1)  # handlers running at once
    card_callback_budget_seconds: float = Field(default=2.0, gt=0)
    dedupe_seconds: int = Field(default=600, ge=300)  # local msgId memory
    # An acked message whose handling fails (database unreachable) is retried this long, with
    # backoff from store_retry_min_seconds, before the sender is told to send it again.
    store_retry_seconds: float = Field(default=300.0, ge=0)
    store_retry_min_seconds: float = Field(default=0.5, gt=0)
    # Meanwhile it is kept in this directory, so it survives the instance dying (one directory
    # per instance, on a persistent disk). None: `dingtalk-spool` next to the SQLite file, else
    # data/dingtalk-spool; relative to the working directory, like the database file.
    spool_dir: str | None = Field(default=None, min_length=1)
    # a picture sent to the bot (a case-code QR) larger than this is not downloaded
    picture_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class DingTalkDeliveryConfig(Strict):
    """Outbound chain: rate limits (DingTalk: 20/min per robot, 130101 blocks for 10 min)."""

    robot_per_minute: int = Field(default=20, ge=1)
    conversation_per_minute: int = Field(default=20, ge=1)
    throttled_pause_seconds: float = Field(default=600.0, ge=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    token_refresh_margin_seconds: int = Field(default=300, ge=0)
    webhook_margin_seconds: int = Field(default=60, ge=0)  # stop using a sessionWebhook this early
    # buttons of markdown/actionCard messages open inside the DingTalk client (PC sidebar)
    # through dingtalk://dingtalkclient/page/link; false for a client without that scheme
    open_links_in_client: bool = True


class DingTalkConfig(Strict):
    enabled: bool = False
    client_id_env: str = "DINGTALK_CLIENT_ID"
    client_secret_env: str = "DINGTALK_CLIENT_SECRET"
    robot_code_env: str = "DINGTALK_ROBOT_CODE"
    api_base: str = "https://api.dingtalk.com"
    oapi_base: str = "https://oapi.dingtalk.com"
    card_template_id: str | None = None  # None: markdown / actionCard messages instead of cards
    corp_id: str | None = None  # for H5 in-app login (免登) in the DingTalk client
    stream_mode: bool = True  # receive over Stream mode (the default) ...
    http_callback: bool = False  # ... and/or the robot's HTTP callback (POST /dingtalk/callback)
    stream: DingTalkStreamConfig = DingTalkStreamConfig()
    delivery: DingTalkDeliveryConfig = DingTalkDeliveryConfig()

    @field_validator("api_base", "oapi_base")
    @classmethod
    def _http(cls, v: str) -> str:
        return check_http_url(v)

    def missing_credentials(self, env: Mapping[str, str]) -> list[str]:
        """One line per credential variable that is not set, while DingTalk is enabled."""
        if not self.enabled:
            return []
        return [f"transports.dingtalk.{field}: environment variable {name} is "
                f"{'blank' if name in env else 'not set'} (DingTalk is enabled)"
                for field, name in (("client_id_env", self.client_id_env),
                                    ("client_secret_env", self.client_secret_env))
                if not env.get(name, "").strip()]  # blank (`ID=' '`) is as good as unset

    def serve_errors(self, env: Mapping[str, str]) -> list[str]:
        """What running with DingTalk enabled needs beyond the model: the credentials, and
        the CorpId (the H5 login that card buttons and forms open asks DingTalk for it)."""
        errors = self.missing_credentials(env)
        if self.enabled and not self.corp_id:
            errors.append("transports.dingtalk.corp_id: required when DingTalk is enabled "
                          "(the in-app login behind card buttons and forms)")
        return errors


class OutboxConfig(Strict):
    """The generic delivery worker (bot/outbox.py)."""

    poll_seconds: float = Field(default=1.0, gt=0)
    batch: int = Field(default=20, ge=1)
    # a claim not renewed for this long is taken over (its holder renews every third of it)
    lease_seconds: float = Field(default=60.0, gt=0)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)


class TransportsConfig(Strict):
    console: ConsoleConfig = ConsoleConfig()
    dingtalk: DingTalkConfig = DingTalkConfig()
    outbox: OutboxConfig = OutboxConfig()

    @property
    def console_on(self) -> bool:
        """Whether the console serves: as configured, else only when no platform is on."""
        if self.console.enabled is not None:
            return self.console.enabled
        return not self.dingtalk.enabled


class WebConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"  # links and QR codes start with it
    # Host header names accepted besides public_url's host and loopback (localhost, 127.0.0.1,
    # [::1]), any port: e.g. the name a reverse proxy passes on. Others get 421 (DNS rebinding).
    allowed_hosts: list[str] = []

    @field_validator("public_url")
    @classmethod
    def _http(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        out = []
        for host in v:
            name = host_name(host)
            if name is None:
                raise ValueError(f"{host!r} is not a host name or address (like "
                                 "casebot.example.org or 10.0.0.5, without http:// or a path)")
            out.append(name)
        return out

    @property
    def base_url(self) -> str:
        """`public_url` without a trailing slash: links are `base_url + "/path"`."""
        return self.public_url.rstrip("/")


class SecretsConfig(Strict):
    """Names of the environment variables that hold secrets; the values never live in YAML."""

    api_token_env: str = "CASEBOT_API_TOKEN"
    link_keys_env: str = "CASEBOT_LINK_KEYS"


class CasesConfig(Strict):
    link_ttl_days: int = Field(default=30, ge=1, le=365)  # QR / code-page links expire
    review_answer_working_days: int = Field(default=3, ge=1, le=30)
    review_reason_max: int = Field(default=500, ge=20, le=5000)


class InspectionConfig(Strict):
    """检务督导面对面. `question_bank` (relative to this file) is imported when the database's bank
    is empty; later changes go through `casebot import questions FILE`."""

    question_bank: str | None = "questions.demo.yaml"
    answer_seconds: int = Field(default=180, ge=30, le=1800)
    # 下一题 this soon after a reveal is taken for a double send (or two hosts at once) and
    # refused; 「下一题 确认」 goes on at once
    reveal_guard_seconds: int = Field(default=30, ge=0, le=300)


ReminderKind = Literal["reevaluate", "consultation", "custody", "review_answer", "rectification"]
RecipientRole = Literal["prosecutor", "investigators", "leader", "chief", "inspector"]
ColorName = Literal["red", "yellow", "green"]


class ReminderTrigger(Strict):
    """When a case rule applies: the case colours (empty = any colour). The anchor (last
    evaluation, a deadline, a review's answer time, a rectification due date) follows from
    the rule's kind."""

    colors: tuple[ColorName, ...] = ()


class ReminderRuleConfig(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=40)
    kind: ReminderKind
    trigger: ReminderTrigger = ReminderTrigger()
    recipients: tuple[RecipientRole, ...] = Field(min_length=1)
    first_due_days: int = Field(ge=-365, le=365)  # after the anchor (negative: before it)
    repeat_days: int | None = Field(default=None, ge=1, le=365)
    working_days: bool = False  # count working days (official calendar) instead of days
    escalate_after: int | None = Field(default=None, ge=0, le=50)  # misses before escalating
    escalate_to: tuple[RecipientRole, ...] = ()
    text: str = Field(min_length=1, max_length=1000)

    def to_rule(self) -> ReminderRule:
        """The domain rule; raises ValueError naming what is wrong."""
        return ReminderRule(
            id=self.id, kind=self.kind, colors=tuple(Color(c) for c in self.trigger.colors),
            first_after_days=self.first_due_days, repeat_days=self.repeat_days,
            working_days=self.working_days, recipients=self.recipients,
            escalate_after=self.escalate_after, escalate_to=self.escalate_to, text=self.text,
        )

    @model_validator(mode="after")
    def _domain_rules(self) -> ReminderRuleConfig:
        self.to_rule()
        return self


class SnoozeConfig(Strict):
    max_days: int = Field(default=7, ge=1, le=60)  # per 提醒 暂停 command
    max_times: int = Field(default=2, ge=0, le=20)  # per case and prosecutor (改派 starts afresh)


def _iso_day(v: Any) -> date:
    """A calendar day written YYYY-MM-DD (the YAML loader leaves dates as strings). Anything
    else is an error, not a guess: pydantic would read 20270101 as seconds since 1970."""
    if isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
        try:
            return date.fromisoformat(v.strip())
        except ValueError as e:
            raise ValueError(f"not a valid date: {v!r} ({e})") from None
    raise ValueError(f"not a date (YYYY-MM-DD): {v!r}")


Day = Annotated[date, BeforeValidator(_iso_day)]


class RemindersConfig(Strict):
    enabled: bool = True
    sweep_interval_seconds: float = Field(default=60, gt=0, le=3600)
    batch_size: int = Field(default=500, ge=1, le=10000)
    late_after_minutes: int = Field(default=60, ge=1)  # sent this much after its time = late (补发)
    office_hours_workdays_only: bool = True  # deliveries wait for working days too
    # Overrides of the official calendar (chinese-calendar); a year the package lacks is taken
    # as known once either list names a day of it (README, "Working days").
    holidays: tuple[Day, ...] = ()  # days off (that year's official 放假 days)
    workdays: tuple[Day, ...] = ()  # make-up working days (调休上班)
    redis_lock: bool = True  # with Redis, one instance sweeps at a time (speed, not correctness)
    snooze: SnoozeConfig = SnoozeConfig()
    rules: tuple[ReminderRuleConfig, ...] | None = None  # None: the built-in defaults

    @model_validator(mode="after")
    def _check(self) -> RemindersConfig:
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError("dates both in holidays and workdays: "
                             + ", ".join(sorted(d.isoformat() for d in both)))
        if self.rules is not None:
            _unique([r.id for r in self.rules], "rules")
        return self

    def work_calendar(self) -> WorkCalendar:
        """The official calendar with this config's overrides (working days, office hours)."""
        return WorkCalendar(frozenset(self.holidays), frozenset(self.workdays))

    def domain_rules(self) -> tuple[ReminderRule, ...]:
        if self.rules is None:
            return default_rules()
        return tuple(r.to_rule() for r in self.rules)


class AppConfig(Strict):
    timezone: str = "Asia/Shanghai"
    office_hours: OfficeHours = OfficeHours()
    org: str = "org.yaml"
    score_template: str = "score_template.yaml"
    storage: StorageConfig = StorageConfig()
    transports: TransportsConfig = TransportsConfig()
    web: WebConfig = WebConfig()
    secrets: SecretsConfig = SecretsConfig()
    cases: CasesConfig = CasesConfig()
    inspection: InspectionConfig = InspectionConfig()
    reminders: RemindersConfig = RemindersConfig()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
