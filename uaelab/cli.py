"""The ``uaelab`` command line: ``uaelab reproduce`` and ``uaelab generate``.

Each command imports its own modules when it runs, so ``uaelab generate --help`` never pays for
matplotlib or the experiments (a test checks this).
"""
from __future__ import annotations

import argparse
import sys

from uaelab import __version__
from uaelab.plugins import PluginError
from uaelab.utils import ENV_OUTPUT


def _reproduce(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="uaelab reproduce",
        description="Regenerate the paper's figures and tables into figures/<profile>/ and results/<profile>/ "
                    f"of the output folder: --out, else ${ENV_OUTPUT}, else the working directory "
                    "(a checkout's root holds the committed ones).",
    )
    parser.add_argument("--profile", default=None, help="quick (default, CPU minutes) or paper (GPU); "
                        "also read from $UAELAB_PROFILE")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="run only these experiments")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"output folder (default: ${ENV_OUTPUT}, else the working directory)")
    args = parser.parse_args(argv)
    from uaelab.experiments import load_all, run_all  # matplotlib and every experiment: only this command

    if args.list:
        for name, exp in load_all().items():
            print(f"{name:28s} {exp.title}")
        return 0
    written = run_all(args.profile, args.only, out=args.out)
    print(f"\nuaelab reproduce wrote {len(written)} files:")
    for path in written:
        print(f"  {path}")
    return 0


def _generate(argv: list[str]) -> int:
    from uaelab.augment.generation import main  # torch and the attacks, no plotting

    return main(argv)


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
    except (ValueError, PluginError) as exc:  # user errors and broken plugins: one clear line, no traceback
        print(f"uaelab {cmd}: error: {exc}", file=sys.stderr)
        return 2
