"""``python -m uaelab.claims``: write every file the claims feed (results/real/claims.{csv,md},
the forest plots and their data, the README block, docs/findings.md)."""
from uaelab.claims.report import write_claims

for path in write_claims():
    print("wrote", path)
