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
# **Teaching time:** about 15 minutes (15 on the [3-hour path](../docs/workshop.md)) · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * read each claim of the paper with its measured verdict, its design, margin and tests
# * tell *holds* from *equivalent* and *inconclusive*, and all three from *not run*
# * read a forest plot: which effects are real, which are ruled out, which are undecided
# * say what a learner should and should not conclude from a reproduction
#
# **Before you start**
#
# * notebooks 02–08 (at least 02 and 06)
# * a two-sample t-test, roughly; equivalence testing (TOST) is explained below
#
# The closing notebook. Every claim of the paper (and the controls this series added) is listed
# with what was **measured**, the statistical **test**, and the **verdict**, all read at run time
# from the result files committed under `results/` by `uaelab.claims.claims_table()`. Nothing
# measured is typed into this notebook: rerun an experiment, commit its result file, run
# `python -m uaelab.claims`, and this notebook says the new verdict.
#
# ## How a verdict is made
#
# A *comparison* is method A against method B on one metric, with the direction the claim asserts.
# Comparisons of one table × model or dataset × metric form a *family*. For each comparison
# (`uaelab.verdicts.compare`, on statsmodels):
#
# * the **design** is *paired* when A's and B's runs share a retraining seed (same initialisation
#   and data order: a paired t-test), *independent* otherwise (Welch's t-test);
# * the **margin** Δ is the smallest difference that would matter, fixed before looking at the
#   data: half the improvement the paper reports for that row, times our Original's mean; controls
#   use the margin of the claim they control; a few rows state their own (e.g. 2 grey levels);
# * two tests: a two-sided test of difference, and an equivalence test (TOST: two one-sided tests
#   that the difference lies inside ±Δ); both p values are **Holm-adjusted within the family**.
#
# The verdict, at α = 0.05 after adjustment (`uaelab.verdicts.VERDICTS`; see the
# [glossary](../docs/glossary.md)):
#
# * *holds*: significant in the claimed direction, and not equivalent;
# * *does not hold*: significant against the claimed direction (or a difference where the claim
#   is that there is none);
# * *equivalent*: the difference lies inside ±Δ. For a claimed improvement this rules the
#   improvement out at the margin (not reproduced); for a claimed equality it supports it;
# * *inconclusive*: neither test decides; the row says how many runs per arm would likely decide it;
# * *not run* (not a verdict): the result file is missing (the `measured` column names it).

# %%
import pandas as pd
from IPython.display import Markdown, display

from uaelab.claims import claims_table
from uaelab.claims.report import conclusion, forest_plot
from uaelab.verdicts import ALPHA, NOT_RUN, VERDICTS

table = claims_table()
assert set(table["verdict"]) <= {*VERDICTS, NOT_RUN}, table["verdict"].unique()
print(f"{len(table)} claims; significance level {ALPHA}, Holm within {table['family'].nunique()} families")
table["verdict"].value_counts().reindex([*VERDICTS, NOT_RUN], fill_value=0).rename("claims").to_frame()

# %% [markdown]
# ## The table
#
# Each row: the claim, where the paper makes it (`source`), the family it is adjusted within, the
# design, what was measured and the verdict. The `budget` column (below, claim by claim) says how
# much compute the measurement had (seeds, images, iterations), next to the paper's.

# %%
with pd.option_context("display.max_colwidth", 90, "display.max_rows", 200):
    display(table[["id", "family", "design", "margin", "p_diff_adj", "p_equiv_adj", "verdict"]].set_index("id"))

# %% [markdown]
# ## The forest plot
#
# One line per comparison with a margin: the difference with its 90% (thick) and 95% (thin)
# confidence intervals, in units of the family's margin Δ and signed so that right is the
# direction the claim asserts. The shaded band is ±Δ: an interval inside it is *equivalent*; one
# clear of zero on the right *holds*. The diamond marks the effect the paper reports (2Δ by
# construction of the margin). The colour is the verdict.

# %%
forest_plot(table, headline=True)

# %% [markdown]
# Every comparison (controls included):

# %%
forest_plot(table)

# %% [markdown]
# ## Claim by claim
#
# Each tested claim with its evidence, and what a learner should take from a verdict of that kind:

# %%
LESSON = {
    "holds": "Reproduced at this budget. Check its controls (Duplicate, no-MI) below: a claim about MINE holds only "
             "if the controls do not do as well.",
    "does not hold": "Measured, and the difference goes the other way. Look for what differs from the paper's set-up "
                     "(data, preset, budget) before concluding the paper is wrong.",
    "equivalent": "The difference is inside the margin: any effect is smaller than the one that would matter. For a "
                  "claimed improvement, that is a negative result, honestly measured.",
    "inconclusive": "The runs can neither show the effect nor rule it out at the margin. The test column says how "
                    "many runs per arm would likely decide it.",
}
tested = table[table["verdict"] != NOT_RUN]
for _, r in tested.iterrows():
    display(Markdown(f"**{r['id']}** · {r['claim']}  \n*{r['source']}* · paper: {r.get('paper', '–')}  \n"
                     f"family: {r['family']} · design: {r['design']} · margin: {r['margin']:.3g} "
                     f"({r['margin_reason']})  \n"
                     f"measured: {r['measured']} → **{r['verdict']}**  \n"
                     f"test: {r['test']} · budget: {r['budget']} · evidence: `{r['evidence']}`  \n"
                     f"{LESSON[r['verdict']]}"))

# %% [markdown]
# The claims without a committed result yet, and the file each one waits for:

# %%
waiting = table[table["verdict"] == NOT_RUN]
waiting.groupby("evidence")["id"].apply(lambda ids: ", ".join(ids)).rename("claims").to_frame()

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
# ## Conclusion
#
# Written from the verdicts and from the measurements of the earlier notebooks (so it follows the
# committed results; the same text is `docs/findings.md`):

# %%
display(Markdown(conclusion(table)))

# %% [markdown]
# How to read this as a learner, whatever the counts say on your checkout:
#
# * **A claim about a method needs its control beside it.** Notebooks 02, 03, 05 and 06 showed
#   that the attacks return nearly the same examples with the MINE networks untrained or without
#   an MI term; an improvement credited to MINE has to beat those rows, and an augmentation gain has
#   to beat **Duplicate** (the same gradient steps with nothing new).
# * **Absence of evidence is not evidence of absence.** A non-significant difference is
#   *inconclusive* unless an equivalence test puts it inside a margin stated in advance.
# * **Many tests, some false alarms.** With dozens of comparisons, a few come out significant by
#   chance; Holm's adjustment controls that within a family, and the conclusion says how many to
#   expect across the table.
# * **Budgets matter.** Most measurements here ran at reduced budgets (the `budget` column); an
#   *inconclusive* at three seeds may be decided at the number of runs the test column gives.
# * **An MI estimate is a score, not a measurement** (notebook 01): comparisons of MINE estimates
#   also compare how long each estimator trained (notebook 04).

# %% [markdown]
# > **Key takeaways**
# >
# > * Verdicts are computed from committed result files at run time; no number here is typed by hand.
# > * Each verdict states its design, its margin and the family it is adjusted within.
# > * *equivalent* rules an effect out; *inconclusive* leaves it open and says what would close it.
