"""``python -m uaelab ...`` is the same as the ``uaelab`` console script."""
from uaelab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
