"""The ``uaelab`` command line: ``uaelab reproduce`` and ``uaelab generate``."""
from __future__ import annotations

import argparse
import sys

from uaelab import __version__
from uaelab.augment.generation import main as _generate
from uaelab.experiments import load_all, run_all


def _reproduce(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="uaelab reproduce",
        description="Regenerate the paper's figures and tables into figures/<profile>/ and results/<profile>/.",
    )
    parser.add_argument("--profile", default=None, help="quick (default, CPU minutes) or paper (GPU); "
                        "also read from $UAELAB_PROFILE")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="run only these experiments")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, exp in load_all().items():
            print(f"{name:28s} {exp.title}")
        return 0
    written = run_all(args.profile, args.only)
    print(f"\nuaelab reproduce wrote {len(written)} files:")
    for path in written:
        print(f"  {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"reproduce": _reproduce, "generate": _generate}
    if not argv or argv[0] in ("-h", "--help"):
        print(f"uaelab {__version__}\nusage: uaelab {{{','.join(commands)}}} [options]   (add -h for help)")
        return 0 if argv else 2
    if argv[0] == "--version":
        print(__version__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in commands:
        print(f"uaelab: unknown command {cmd!r}; choose one of {', '.join(commands)}", file=sys.stderr)
        return 2
    try:
        return commands[cmd](rest)
    except ValueError as exc:  # user errors: one clear line, no traceback
        print(f"uaelab {cmd}: error: {exc}", file=sys.stderr)
        return 2
