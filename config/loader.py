"""Load the YAML files into the validated model; errors name the file, the field path and why."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.domain.scoring import ScoreTemplate, load_template
from config.model import AppConfig, Org

M = TypeVar("M", bound=BaseModel)

DEFAULT_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = DEFAULT_DIR / "casebot.yaml"
# Environment variables that replace a field of the file: URLs that may hold a password, which
# the config file (shared, often in version control) should not.
ENV_OVERRIDES: dict[str, str] = {
    "storage.database_url": "CASEBOT_DATABASE_URL",
    "storage.redis_url": "CASEBOT_REDIS_URL",
}


MIN_LINK_KEY_CHARS = 16  # a shorter CASEBOT_LINK_KEYS key stops `serve` and `check-config`


class ConfigError(Exception):
    """A configuration problem; `errors` holds one precise line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Secrets:
    api_token: str | None
    link_keys: tuple[bytes, ...]  # first signs, all verify (rotation)


@dataclass(frozen=True)
class Settings:
    """Everything loaded at start: the app config, the org roster and the secrets."""

    config: AppConfig
    org: Org
    template: ScoreTemplate
    secrets: Secrets
    source: Path
    # field path -> the environment variable its value came from (ENV_OVERRIDES)
    from_env: Mapping[str, str] = field(default_factory=dict)

    def label(self, path: str) -> str:
        """A field for a `FILE: FIELD: why` line, naming the variable it came from if any."""
        var = self.from_env.get(path)
        return f"{path} (from environment variable {var})" if var else path

    def origin(self, path: str) -> str:
        """Where a field's value was set, for a message: the variable, or the field and file."""
        var = self.from_env.get(path)
        if var:
            return f"environment variable {var}, which overrides {path} in {self.source}"
        return f"{path} in {self.source}"

    @property
    def org_path(self) -> Path:
        """org.yaml, where the roster lives (relative to the config file unless absolute)."""
        return self.source.parent / self.config.org


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as `yaml.safe_load`, except that an unquoted date stays a string: the model
    parses it, so `2026-13-01` is an error naming its field instead of an exception in the
    YAML library. So does an unquoted number with colons, which YAML 1.1 reads in base 60:
    `start: 9:00` would be the number 540, and `18:00` 1080."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0] and ":" in value and tag in _BASE_60:
            return "tag:yaml.org,2002:str"
        return tag


_BASE_60 = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Ref = tuple[Path, str]  # the file and the field that name a file


def read_yaml(path: Path, ref: Ref | None = None) -> Any:
    """The parsed file, or ConfigError with one line: the file (and, for a file named by
    another one, that file and its field), the line where known, and why."""
    named = f"{ref[0]}: {ref[1]}: " if ref else ""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{named}file not found: {path}" if ref else
                           f"{path}: file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{named}{path}: is a directory, not a file"]) from None
    except OSError as e:
        raise ConfigError([f"{named}{path}: cannot read: {e.strerror or e}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x});"
                           " save the file as UTF-8"]) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path | str) -> Any:
    """YAML text as `read_yaml` parses a file (``path`` names it in the one-line error). A key
    given twice in one mapping is an error: YAML would keep the last one silently, so a second
    `storage:` block would drop the first one's `database_url`."""
    try:
        return _load(text, path)
    except yaml.reader.ReaderError as e:  # a control character; no mark, a position
        line = text[:e.position].count("\n") + 1
        raise ConfigError([f"{path}: line {line}: bad YAML: character #x{e.character:04x}"
                           " is not allowed"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError([f"{path}: {where}bad YAML: {' '.join(problem.split())}"]) from None
    except (ValueError, TypeError, RecursionError) as e:  # e.g. an explicit !!timestamp 2026-13-01
        raise ConfigError([f"{path}: bad YAML: {e}"]) from None


def _load(text: str, path: Path | str) -> Any:
    """yaml.load with _Loader, checking for duplicate keys between composing and constructing."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if duplicates := _duplicate_keys(node):
            raise ConfigError([f"{path}: {line}" for line in duplicates])
        return loader.construct_document(node)
    finally:
        loader.dispose()


_MERGE = "tag:yaml.org,2002:merge"


def _duplicate_keys(root: yaml.Node) -> list[str]:
    """One line per key given twice in a mapping, in file order, with its field path:
    `storage: duplicate key (line 12; first at line 3)`."""
    found: list[tuple[int, str]] = []
    done: set[int] = set()  # an alias points at a node already walked
    todo: list[tuple[yaml.Node, str]] = [(root, "")]
    while todo:
        node, where = todo.pop()
        if id(node) in done:
            continue
        done.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                    todo.append((value, where))
                    continue
                loc = f"{where}.{key.value}" if where else str(key.value)
                line = key.start_mark.line + 1
                if key.value in first:
                    found.append((line, f"{loc}: duplicate key (line {line}; "
                                        f"first at line {first[key.value]})"))
                first.setdefault(key.value, line)
                todo.append((value, loc))
        elif isinstance(node, yaml.SequenceNode):
            todo += [(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
    return [text for _, text in sorted(found)]


def validate_file(path: Path, model: type[M], data: Any = None, ref: Ref | None = None,
                  labels: Mapping[str, str] | None = None) -> M:
    """``labels``: field paths shown otherwise in errors (a value from the environment)."""
    if data is None:
        data = read_yaml(path, ref)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: top level must be a mapping, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errs = e.errors()
        # a list whose only item is wrong is also reported as too short: name the item only
        inner = {tuple(err["loc"][:n]) for err in errs for n in range(len(err["loc"]))}
        raise ConfigError([_format(path, err, labels or {}) for err in errs
                           if err["type"] != "too_short" or tuple(err["loc"]) not in inner
                           ]) from None


def _format(path: Path, err: Any, labels: Mapping[str, str]) -> str:
    loc = ".".join(
        f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]
    ).replace(".[", "[")
    loc = labels.get(loc, loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required field missing"
    elif msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    # a whole-file check (org.yaml's references) names its own location in msg
    return f"{path}: {loc}: {msg}" if loc else f"{path}: {msg}"


def load_secrets(cfg: AppConfig, env: dict[str, str] | None = None) -> Secrets:
    env = dict(os.environ) if env is None else env
    token = env.get(cfg.secrets.api_token_env, "").strip() or None  # blank: not set
    raw_keys = env.get(cfg.secrets.link_keys_env, "")
    keys = tuple(k.strip().encode() for k in raw_keys.split(",") if k.strip())
    return Secrets(api_token=token, link_keys=keys)


def load_config(
    path: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Load `casebot.yaml` and the files it names (relative to it), or raise ConfigError.
    The environment's ENV_OVERRIDES replace the file's values; ``overrides`` (the demo's)
    replace both."""
    path = Path(path) if path else DEFAULT_CONFIG
    env = dict(os.environ) if env is None else env
    data = read_yaml(path)
    if data is None:
        data = {}
    from_env = {field: var for field, var in ENV_OVERRIDES.items()
                if env.get(var, "").strip() and not _has(overrides or {}, field)}
    if isinstance(data, dict) and from_env:
        for field, var in from_env.items():
            data = _merge(data, _nested(field, env[var].strip()))
    if isinstance(data, dict) and overrides:
        data = _merge(data, overrides)
    labels = {field: f"{field} (from environment variable {var})"
              for field, var in from_env.items()}
    cfg = validate_file(path, AppConfig, data, labels=labels)
    errors: list[str] = []
    org: Org | None = None
    try:
        org = validate_file(path.parent / cfg.org, Org, ref=(path, "org"))
    except ConfigError as e:
        errors += e.errors
    template: ScoreTemplate | None = None
    template_path = path.parent / cfg.score_template
    try:
        raw = read_yaml(template_path, (path, "score_template"))
        if not isinstance(raw, dict):
            raise ConfigError([f"{template_path}: top level must be a mapping"])
        template = load_template(raw)
    except ConfigError as e:
        errors += e.errors
    except ValueError as e:
        errors += [f"{template_path}: {line}" for line in str(e).splitlines()]
    if errors or org is None or template is None:
        raise ConfigError(errors)
    return Settings(config=cfg, org=org, template=template, secrets=load_secrets(cfg, env),
                    source=path, from_env=from_env)


def serve_errors(settings: Settings, env: Mapping[str, str] | None = None,
                 demo: bool = False) -> list[str]:
    """What only running the bot needs (`serve`, `check-config`): the question bank it imports
    into an empty database must exist (parsed when imported: it takes a while), and DingTalk,
    when enabled, needs its credentials in the environment and its CorpId. A test clock runs
    only in `casebot demo` (``demo``): in production it would do nothing, or move real dates."""
    bank = settings.config.inspection.question_bank
    path = settings.source
    errors = []
    if settings.config.transports.console.test_clock and not demo:
        errors.append(f"{path}: transports.console.test_clock: a test clock never runs under "
                      "`casebot serve` (it always uses the real time): remove the key or set it "
                      "to false; to move the clock, run `casebot demo --test-clock`")
    if bank and not (path.parent / bank).is_file():
        errors.append(f"{path}: inspection.question_bank: file not found: {path.parent / bank}")
    dingtalk = settings.config.transports.dingtalk
    errors += [f"{path}: {line}"
               for line in dingtalk.serve_errors(os.environ if env is None else env)]
    keys = settings.secrets.link_keys
    for i, key in enumerate(keys, 1):
        if len(key) < MIN_LINK_KEY_CHARS:  # guessable: whoever guesses it signs any link
            errors.append(
                f"{path}: secrets.link_keys_env: environment variable "
                f"{settings.config.secrets.link_keys_env}: key {i} of {len(keys)} has {len(key)} "
                f"characters, fewer than {MIN_LINK_KEY_CHARS}; use a long random one, e.g. "
                "`openssl rand -hex 32`")
    return errors


def _nested(path: str, value: Any) -> dict[str, Any]:
    """`a.b`, v -> {"a": {"b": v}}."""
    out: Any = value
    for key in reversed(path.split(".")):
        out = {key: out}
    result: dict[str, Any] = out
    return result


def _has(data: Mapping[str, Any], path: str) -> bool:
    """Whether the nested mapping sets the dotted ``path``."""
    for key in path.split("."):
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out
