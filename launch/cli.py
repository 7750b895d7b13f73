"""`graphmer-launch`: train by default, or run one of the subcommands.

    graphmer-launch --platform local [...]         train (see launch/cmd_train.py)
    graphmer-launch data|bench|eval|report|kaggle|sweep  the subcommands below

Each subcommand lives in its own module with `build_parser()` and `main(argv) -> int`, imported only
when used, so `--strategy single` never imports ray and `--help` stays fast. User errors print as one
paragraph without a traceback and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from graphmer_dist.errors import UserError

SUBCOMMANDS: dict[str, str] = {
    "data": "launch.cmd_data",
    "bench": "launch.cmd_bench",
    "eval": "launch.cmd_eval",
    "report": "launch.cmd_report",
    "kaggle": "launch.cmd_kaggle",
    "sweep": "launch.cmd_sweep",
}
TRAIN_COMMAND = "launch.cmd_train"


def command_module(argv: list[str]):
    """The module that handles argv, and the arguments left for it."""
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]), argv[1:]
    return importlib.import_module(TRAIN_COMMAND), argv


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of a subcommand (None = train); tests and infra checks parse with it."""
    module = importlib.import_module(SUBCOMMANDS[command] if command else TRAIN_COMMAND)
    return module.build_parser()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        module, rest = command_module(argv)
        return int(module.main(rest) or 0)
    except UserError as exc:
        print(f"graphmer-launch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("graphmer-launch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
