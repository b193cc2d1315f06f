"""The ``kit`` command: data registry, course runner and apps, and the lesson tools.

Every error a user can cause (:class:`kit.errors.KitError`) is printed as one line,
``kit: error: ...``, with exit code 2; anything else is a bug and keeps its full
traceback (exit code 1). Warnings are printed as ``kit: warning: ...`` lines.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
import warnings


def build_parser() -> argparse.ArgumentParser:
    from kit.course import cli as course_cli
    from kit.data import cli as data_cli
    from kit.epi import cli as epi_cli
    from kit.forecast import cli as forecast_cli
    from kit.vision import cli as vision_cli

    parser = argparse.ArgumentParser(prog="kit", description="The COVID-19 course kit.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (data_cli, course_cli, epi_cli, forecast_cli, vision_cli):
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"kit: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from kit.errors import KitError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = "kit " + shlex.join(argv)  # what a model card records as the command that made it
    warnings.simplefilter("default", UserWarning)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130
    except KitError as exc:
        if os.environ.get("KIT_DEBUG"):
            raise
        print(f"kit: error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print("kit: this is a bug in the kit, not a mistake in your input; please report it with the "
              "traceback above", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
