"""Strict YAML → `Config` loading and `--set section.key=value` overrides.

Strict means: every unknown key is listed (not just the first), every value is checked against its
field's type and choices, and YAML syntax errors name the file and line. Errors are `ConfigError`
with the key and the fix; the CLI prints them without a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from graphmer_dist.config import SECTIONS, Config
from graphmer_dist.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name_or_path: str) -> Path:
    """A path, or a shipped config's name ('tiny' → configs/tiny.yaml)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    raise ConfigError(f"config file '{name_or_path}' does not exist; pass a YAML path or one of the shipped "
                      f"configs: {', '.join(names)}")


def load_config(path: str | Path | None = None, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Config:
    """Defaults, then the YAML file (if any), then overrides, all type-checked. Overrides are
    `section.key=value` strings or what `parse_overrides` made of them."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = resolve_config_path(str(path))
        source = str(path)
        raw = _read_yaml(path)
    typed = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    for dotted, value in typed.items():
        section, _, key = dotted.partition(".")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"config section '{section}' in {source} must be a mapping")
        raw[section][key] = value
    if path is not None and "name" not in raw:
        raw["name"] = Path(path).stem
    return config_from_dict(raw, source)


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """`section.key=value` strings → {"section.key": typed value}, each checked against its field's
    type and choices: the only place command-line text becomes config values (later ones win)."""
    typed: dict[str, Any] = {}
    for item in overrides:
        section, key, value = _split_override(item)
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
        if key not in fields:
            match = difflib.get_close_matches(key, fields, 1)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise ConfigError(f"override '{item}': unknown key '{key}' in section '{section}'{hint}; "
                              f"valid keys are {sorted(fields)}")
        hint = typing.get_type_hints(SECTIONS[section])[key]
        typed[f"{section}.{key}"] = _coerce(f"{section}.{key}", hint, fields[key], _OverrideText(value))
    return typed


def apply_overrides(config: Config, typed: Mapping[str, Any]) -> Config:
    """`config` with typed overrides ({"train.lr": 3e-4}, from `parse_overrides`) applied and re-checked."""
    sections: dict[str, dict[str, Any]] = {}
    for dotted, value in typed.items():
        section, _, key = dotted.partition(".")
        sections.setdefault(section, {})[key] = value
    return config.replace(**sections)


def config_from_dict(raw: dict[str, Any], source: str = "a dict") -> Config:
    unknown = sorted(set(raw) - set(SECTIONS) - {"name"})
    if unknown:
        raise ConfigError(f"the config at {source} has unknown section(s) {unknown}; "
                          f"valid sections are {sorted(SECTIONS)} (and 'name')")
    sections = {name: _build_section(name, cls, raw.get(name) or {}, source) for name, cls in SECTIONS.items()}
    name = raw.get("name", "default")
    if isinstance(name, _OverrideText):
        name = str(name)
    if not isinstance(name, str):
        raise ConfigError(f"config key 'name' in {source} must be a string")
    return Config(name=name, **sections)


class _OverrideText(str):
    """A value that came from the command line as text; converted by the field's type."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}; check the path and that it is UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}; fix the syntax there") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections (model:, train:, ...), "
                          f"not a {type(data).__name__}")
    return data


def _split_override(item: str) -> tuple[str, str, str]:
    key, sep, value = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name:
        raise ConfigError(f"override '{item}' is not of the form section.key=value (e.g. train.lr=3e-4)")
    if section not in SECTIONS:
        raise ConfigError(f"override '{item}': unknown section '{section}'; valid sections are {sorted(SECTIONS)}")
    return section, name, value


def _build_section(section: str, cls: type, values: Any, source: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{section}' in {source} must be a mapping, not {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        hints = [f"'{k}' (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(k, fields, 1)) else f"'{k}'"
                 for k in unknown]
        raise ConfigError(f"the config at {source} has unknown key(s) in section '{section}': {', '.join(hints)}; "
                          f"valid keys are {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(f"{section}.{k}", hints[k], fields[k], v) for k, v in values.items()}
    return cls(**kwargs)


def _coerce(key: str, hint: Any, fld: dataclasses.Field, value: Any) -> Any:
    from_cli = isinstance(value, _OverrideText)
    converted = _convert(key, hint, str(value) if from_cli else value, from_cli)
    choices = fld.metadata.get("choices")
    if choices and converted not in choices:
        raise ConfigError(f"config key '{key}': {converted!r} is not one of {list(choices)}")
    return converted


def _convert(key: str, hint: Any, value: Any, from_cli: bool) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"config key '{key}' expects {expected}, got {value!r} ({type(value).__name__})")

    if hint is bool:
        if isinstance(value, bool):
            return value
        if from_cli and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise bad("true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_cli:
            try:
                return int(value)
            except ValueError:
                pass
        raise bad("an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads '4e-4' as a string; accept it as the float it means
            try:
                return float(value)
            except ValueError:
                pass
        raise bad("a number")
    if hint is str:
        if isinstance(value, str):
            return str(value)
        raise bad("a string")
    if typing.get_origin(hint) is list:
        if from_cli:  # a,b or [a,b]; "none" or "[]" is the empty list
            parts = [part for part in (p.strip() for p in value.strip().strip("[]").split(",")) if part]
            return [] if parts == ["none"] else parts
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise bad("a list of strings")
    raise AssertionError(f"unsupported config field type {hint} for {key}")
