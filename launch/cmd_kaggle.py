"""`graphmer-launch kaggle bundle --out DIR ...`: write a ready-to-push Kaggle kernel.

    graphmer-launch kaggle bundle --out kaggle/ --id alice/graphmer-se-train --config cpu-small
    kaggle kernels push -p kaggle/

The extra training flags are checked with the training parser now, so a typo fails here and not after a
Kaggle session has started.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
from pathlib import Path

from graphmer_dist.errors import ConfigError
from launch.kaggle_bundle import KaggleBundleOptions, train_command, write_bundle

SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The checkout this module runs from; its package source is what the bundle embeds."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch kaggle", description="Kaggle helpers.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = actions.add_parser("bundle", help="write kernel-metadata.json and a training script, ready to push",
                           description="Write a Kaggle kernel (kernel-metadata.json + a script that installs "
                                       "graphmer-dist and runs `graphmer-launch --platform kaggle --resume auto`).")
    b.add_argument("--out", required=True, metavar="DIR", help="folder to write (created if missing)")
    b.add_argument("--id", dest="kernel_id", metavar="OWNER/SLUG",
                   help="the kernel's id (default: $KAGGLE_USERNAME/graphmer-se-train, as the kaggle CLI uses)")
    b.add_argument("--dataset-source", action="append", default=[], metavar="OWNER/SLUG",
                   help="attach a dataset, e.g. a previous run's output saved as a dataset (repeatable)")
    b.add_argument("--kernel-source", action="append", default=[], metavar="OWNER/SLUG",
                   help="attach a kernel's latest output, e.g. this kernel's own, to resume from it (repeatable)")
    b.add_argument("--internet", action=argparse.BooleanOptionalAction, default=True,
                   help="give the kernel internet (needed to pip-install ray/deepspeed; default: on)")
    b.add_argument("--public", action="store_true", help="make the kernel public (default: private)")
    b.add_argument("--config", help="a config name from configs/ (the kernel has only that folder)")
    b.add_argument("--extra", default="", metavar="'FLAGS'",
                   help="more graphmer-launch flags as one string, e.g. --extra='--steps 5000 --set train.lr=3e-4'")
    b.add_argument("--install-from", metavar="REQUIREMENT",
                   help="pip-install this (e.g. git+https://github.com/you/graphmer-dist) instead of embedding "
                        "this checkout's source")
    return p


def options_from_args(args: argparse.Namespace) -> KaggleBundleOptions:
    kernel_id = args.kernel_id or _default_kernel_id()
    return KaggleBundleOptions(
        kernel_id=kernel_id, dataset_sources=tuple(args.dataset_source), kernel_sources=tuple(args.kernel_source),
        internet=args.internet, private=not args.public, config=args.config,
        extra_args=tuple(shlex.split(args.extra)), install_from=args.install_from)


def _default_kernel_id() -> str:
    # KAGGLE_USERNAME is the kaggle CLI's own setting, read here only to fill the default of --id.
    user = os.environ.get("KAGGLE_USERNAME")
    if not user:
        raise ConfigError("kaggle bundle needs the kernel's id: pass --id OWNER/SLUG with your Kaggle username "
                          "(e.g. --id alice/graphmer-se-train), or set KAGGLE_USERNAME")
    return f"{user}/graphmer-se-train"


def check_train_command(command: list[str]) -> None:
    """Parse the kernel's command with the training parser; a bad flag becomes a ConfigError."""
    from launch.cli import build_parser as command_parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            command_parser(None).parse_args(command[1:])
    except SystemExit:
        reason = stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else "invalid arguments"
        raise ConfigError(f"kaggle bundle: the kernel's command `{shlex.join(command)}` would fail on Kaggle "
                          f"({reason}); fix --extra/--config") from None


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    options = options_from_args(args)
    check_train_command(train_command(options))
    paths = write_bundle(options, Path(args.out), SOURCE_ROOT)
    for path in paths:
        print(f"wrote {path}")
    print(f"push it with: kaggle kernels push -p {shlex.quote(args.out)}")
    return 0
