"""The paper's claims and their verdicts, the top of the data flow (data → models → MI → attacks
→ augmentation → experiments → **claims**).

* :mod:`uaelab.claims.table`: one row per claim, computed from the committed ``results/`` files
  with :mod:`uaelab.verdicts` (its main names are re-exported here);
* :mod:`uaelab.claims.report`: the README summary, the forest plots, notebook 09's conclusion and
  ``docs/findings.md``, all generated from the table.

``python -m uaelab.claims`` writes every file the claims feed (after new results).
"""
from uaelab.claims.table import COLUMNS, REAL, STATUSES, Claim, all_claims, claims_markdown, claims_rows, claims_table

__all__ = ["COLUMNS", "REAL", "STATUSES", "Claim", "all_claims", "claims_markdown", "claims_rows", "claims_table"]
