# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags
#     formats: py:percent
#     notebook_metadata_filter: kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · What reproduces: the paper's claims, one by one
#
# **Teaching time:** about 15 minutes · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * read each claim of the paper with its measured verdict and the test behind it
# * tell 'does not hold' from 'within noise', and both from 'not tested'
# * say what a learner should and should not conclude from a reproduction
#
# **Before you start**
#
# * notebooks 02–08 (at least 02 and 06)
# * a two-sample t-test, roughly
#
# The closing notebook. Every claim of the paper (and the controls this series added) is listed
# with what was **measured**, the statistical **test**, and the **verdict**, all read at run time
# from the result files committed under `results/` by `uaelab.claims.claims_table()`. Nothing
# measured is typed into this notebook: rerun an experiment, commit its result file, and this
# notebook says the new verdict.
#
# A verdict is one of four (`uaelab.verdicts.VERDICTS`; see the [glossary](../docs/glossary.md)):
#
# * **holds**: the measured difference has the paper's sign and is larger than its run-to-run
#   noise (Welch's t over seeds, or a binomial/Fisher test where a file has no per-run values);
# * **does not hold**: the difference is significant and has the *other* sign;
# * **within noise**: the runs cannot tell the difference from zero (with few seeds, say so: that
#   is not evidence of no effect, only of no detectable one at this budget);
# * **not tested**: the result file is missing (the `measured` column names it).

# %%
import pandas as pd
from IPython.display import Markdown, display

from uaelab.claims import claims_table
from uaelab.verdicts import ALPHA, VERDICTS

table = claims_table()
assert set(table["verdict"]) <= set(VERDICTS), table["verdict"].unique()
print(f"{len(table)} claims; significance level {ALPHA}")
table["verdict"].value_counts().reindex(VERDICTS, fill_value=0).rename("claims").to_frame()

# %% [markdown]
# ## The table
#
# Each row: the claim, where the paper makes it (`source`), the paper's number, what was measured,
# and the verdict. The `budget` column says how much compute the measurement had (seeds, images,
# iterations), next to the paper's.

# %%
with pd.option_context("display.max_colwidth", 120):
    display(table[["id", "claim", "source", "measured", "verdict"]].set_index("id"))

# %% [markdown]
# ## Claim by claim
#
# Each tested claim with its evidence, and what a learner should take from a verdict of that kind:

# %%
LESSON = {
    "holds": "Reproduced at this budget. Check that its controls (Duplicate, no-MI) are claims of their own below: "
             "a claim about MINE holds only if the no-MI control does not do as well.",
    "does not hold": "Measured, and the difference goes the other way, beyond the noise. Look for what differs "
                     "from the paper's set-up (data, preset, budget) before concluding the paper is wrong.",
    "within noise": "The runs cannot separate the two rows. More seeds could; until then, neither the claim nor "
                    "its opposite is supported.",
    "not tested": "No committed result yet; the measured column names the missing file and the command makes it.",
}
tested = table[table["verdict"] != "not tested"]
for _, r in tested.iterrows():
    display(Markdown(f"**{r['id']}** · {r['claim']}  \n*{r['source']}* · paper: {r.get('paper', '–')}  \n"
                     f"measured: {r['measured']} → **{r['verdict']}**  \n"
                     f"test: {r['test']} · budget: {r['budget']} · evidence: `{r['evidence']}`  \n"
                     f"{LESSON[r['verdict']]}"))

# %% [markdown]
# The claims without a committed result yet, and the file each one waits for:

# %%
waiting = table[table["verdict"] == "not tested"]
print(LESSON["not tested"])
waiting.groupby("evidence")["id"].apply(lambda ids: ", ".join(ids)).rename("claims").to_frame()

# %% [markdown]
# ## What to conclude
#
# The counts and lists below are computed from the table, so they follow the committed results:

# %%
by = {v: table.loc[table["verdict"] == v, "id"].tolist() for v in VERDICTS}
for v in VERDICTS:
    print(f"{v:14s} {len(by[v]):2d}  {', '.join(by[v])}")
n_tested = len(table) - len(by["not tested"])
print(f"\nof {n_tested} tested claims, {len(by['holds'])} hold, {len(by['does not hold'])} do not, "
      f"{len(by['within noise'])} cannot be told from noise at the budgets run")

# %% [markdown]
# Every improvement over the original model, beside its control. An augmented model trains twice
# the gradient steps, so a gain over the original counts as the UAEs' only if it also beats
# **Duplicate** (notebook 06):

# %%
verdict = table.set_index("id")["verdict"]
gains = [(cid, cid.replace("-vs-original", "-vs-duplicate")) for cid in verdict.index if cid.endswith("-vs-original")]
pd.DataFrame([{"improvement": c, "vs original": verdict[c], "vs Duplicate": verdict.get(d, "not listed")}
              for c, d in gains]).set_index("improvement")

# %% [markdown]
# How to read this as a learner, whatever the counts say on your checkout:
#
# * **A claim about a method needs its control beside it.** Notebooks 02, 03, 05 and 06 showed
#   that the attacks return nearly the same examples with the MINE networks untrained or without
#   an MI term; an improvement credited to MINE has to beat those rows, and an augmentation gain has
#   to beat **Duplicate** (the same gradient steps with nothing new).
# * **One run is an anecdote.** The verdicts compare rows over seeds; a gain that one seed shows and
#   the next does not is "within noise".
# * **Budgets matter.** Most measurements here ran at reduced budgets (the `budget` column); a
#   "within noise" at three seeds is not a "does not hold" at thirty.
# * **An MI estimate is a score, not a measurement** (notebook 01): comparisons of MINE estimates
#   also compare how long each estimator trained (notebook 04).

# %% [markdown]
# > **Key takeaways**
# >
# > * Verdicts are computed from committed result files at run time; no number here is typed by hand.
# > * Controls (no-MI, untrained MINE, Duplicate) and seeds decide what a claim's evidence is worth.
# > * 'Within noise' at a small budget is an open question, not a refutation.
