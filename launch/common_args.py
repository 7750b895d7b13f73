"""Arguments shared by every command that reads a config: --config and --set."""

from __future__ import annotations

import argparse
from typing import Iterable

from graphmer_dist.config import Config
from graphmer_dist.config_loader import load_config


def add_config_args(parser: argparse.ArgumentParser, default_config: str | None = None) -> None:
    parser.add_argument("--config", default=default_config,
                        help="YAML config file, or a shipped config name (tiny, cpu-small, graphmert-base, "
                             "graphmer-se-85m)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")


def config_from_args(args: argparse.Namespace, flag_overrides: Iterable[str] = ()) -> Config:
    """YAML < --set < dedicated flags (passed in `flag_overrides` as section.key=value)."""
    return load_config(args.config, [*args.overrides, *flag_overrides])
