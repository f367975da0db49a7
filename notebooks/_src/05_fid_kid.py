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
# # 05 · How realistic are the adversarial examples? FID and KID (paper Table 2, Figure 1)
#
# **Teaching time:** about 30 minutes, 45 with the ★★★ exercise (not on the [3-hour path](../docs/workshop.md)) · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * compute FID and KID between adversarial examples and training data, and know which features they use
# * read a distance against its floor (the clean test samples) and its run-to-run spread
# * check with the no-MI and untrained-MINE controls whether MINE makes the examples more realistic
#
# **Before you start**
#
# * notebook 02
# * means and covariances; the idea of a kernel
#
# The two per-sample MINE modes of notebook 01 lead to different adversarial examples. The paper
# compares them (CIFAR-10, untargeted, $\epsilon = 1$) with two standard distances between image
# *distributions*, computed in the feature space of a pretrained network:
#
# * **FID** (Fréchet Inception distance, [Heusel et al., 2017](https://arxiv.org/abs/1706.08500)): fit a Gaussian to each set's features and take
#   $\|\mu_1-\mu_2\|^2 + \mathrm{tr}\big(\Sigma_1+\Sigma_2-2(\Sigma_1\Sigma_2)^{1/2}\big)$;
# * **KID** (kernel Inception distance, [Bińkowski et al., 2018](https://arxiv.org/abs/1801.01401)): an unbiased MMD² with a cubic polynomial kernel,
#   averaged over random subsets of a fixed size.
#
# Lower means the adversarial examples look more like the training data. uaelab computes both
# with **torch-fidelity**.
#
# **Which features?** The usual choice is torch-fidelity's `inception-v3-compat`, whose weights
# are downloaded (or read from a local file you name with
# `FidelitySettings(weights_path=...)`). Without network access — as on machines running the
# tests — uaelab registers, through torch-fidelity's own `register_feature_extractor`, a
# feature extractor built on a **digits classifier trained on the same data** (a second one,
# with another seed, not the attacked one) and uses its penultimate layer. Those numbers are
# *not* Inception FID/KID, so every output names the extractor that produced it.

# %%
from IPython.display import display

from uaelab.config import active_profile
from uaelab.viz.plotting import show
from uaelab.viz.widgets import explore, slider

print("profile:", active_profile())
from uaelab.exercises.nb05 import check_fid_gaussians, check_kid_subset_size
from uaelab.experiments.fid_kid import PAPER_TABLE2, FidKidSettings, table2_fid_kid
from uaelab.evaluate.fidelity import FidelitySettings, kid_subset_size_for

# %%
# NBVAL_CHECK_OUTPUT
print(FidKidSettings.from_profile())
print(FidelitySettings.from_profile())

# %% [markdown]
# KID averages over subsets of 1000 samples by default. With fewer samples (32 adversarial
# examples in the quick profile) the subset size has to shrink, and uaelab says so:

# %%
# NBVAL_CHECK_OUTPUT
size, message = kid_subset_size_for(32, 500)
print(size)
print(message)

# %% [markdown]
# ## Table 2
#
# Random-sampling MINE is run several times with different seeds (mean ± std over runs), conv
# MINE once; *clean test samples* give the floor for this extractor and sample size. The
# `paper_*` columns are the paper's CIFAR-10 Inception numbers, for orientation only.

# %%
res = table2_fid_kid()
print(res.notes)
res.tables["table2"]

# %% [markdown]
# The KID subset size used for each row (checked by the tests):

# %%
# NBVAL_CHECK_OUTPUT
print(res.tables["table2"]["kid_subset_size"].to_dict())

# %% [markdown]
# ## Figure 1: visual comparison

# %%
res.figures["fig1_visual_comparison"]

# %% [markdown]
# **What to look at.** Compare each attack with the *clean* row, not with the paper's numbers
# (different data, features and sample counts). Despite images that look like digits, both modes
# are far from the data in feature space — the next cell prints by how much (and checks that KID is
# more than twice the clean samples'). In the quick profile, after $T = 40$ iterations at the
# released code's MINE learning rate (1.5e-5, one step per iteration) the statistics networks are
# hardly trained; whether the classifier's margin alone then drives the perturbation is what the
# controls below test, with the MI term switched off. The
# paper finds the two modes comparable, with conv lower in KID; with 32 samples and the offline
# extractor, the run-to-run spread (`fid_std`, `kid_std`) tells how much of a difference is noise.

# %%
t2 = res.tables["table2"]
clean = t2.loc["clean test samples"]
for mode in ("random", "conv"):
    print(f"{mode}: KID {t2.loc[mode, 'kid'] / clean['kid']:.1f}x and FID {t2.loc[mode, 'fid'] / clean['fid']:.2f}x "
          f"the clean test samples'")
assert (t2.loc[["random", "conv"], "kid"] > 2 * clean["kid"]).all(), "the examples are far from the data"

# %% [markdown]
# ## Is it the MINE term? The controls
#
# The same random-sampling attack (first run, same samples) with the MI term switched off — the
# statistics networks never trained (`mine.steps=0`) or no MI term at all — scored with the same
# extractor (`fid_kid_controls`, cached). `max_diff_vs_mine` is the largest per-pixel difference
# from MINE's examples:

# %%
from uaelab.experiments.fid_kid import fid_kid_controls

ctl = fid_kid_controls()
ctl.tables["controls"].drop(columns="extractor").round(4)

# %%
c = ctl.tables["controls"]
mine_row, controls = c.loc["random sampling, MINE"], c.drop(index=["random sampling, MINE", "clean test samples"])
print(f"largest per-pixel difference from MINE's examples: {controls['max_diff_vs_mine'].max():.3f}")
print(f"KID: MINE {mine_row['kid']:.2f}, controls {', '.join(f'{v:.2f}' for v in controls['kid'])}, "
      f"clean {c.loc['clean test samples', 'kid']:.2f}")
assert controls["max_diff_vs_mine"].max() < 0.05, "the controls return nearly MINE's examples"
assert (abs(controls["kid"] - mine_row["kid"]) < 0.2 * mine_row["kid"]).all(), "their KID is MINE's"

# %% [markdown]
# **What to look at.** Without a trained MI term the attack returns nearly the same examples, with
# the same FID and KID: how realistic these examples are is decided by the classifier's margin and
# the attack's loop, not by MINE. The examples and their perturbations on one colour scale:

# %%
ctl.figures["perturbations"]

# %% [markdown]
# ### Try it
# Switch the MI term and the number of samples; the perturbations are drawn on a fixed scale
# (±0.5), so switching compares sizes. The FID/KID row of the choice is printed above the figure.

# %%
from uaelab.experiments.fid_kid import control_demo


def show_examples(examples="random sampling, MINE", n=6):
    print(c.loc[examples, ["asr", "fid", "kid", "mean_linf"]].round(3).to_string())
    display(control_demo(examples, n))


explore(show_examples, examples=["random sampling, MINE", "MINE, untrained (steps=0)", "no MI term"],
        n=slider(2, 8, 1, 6))

# %% [markdown]
# To use Inception features, pass `fidelity=FidelitySettings(extractor="inception-v3-compat",
# weights_path="/path/to/weights-inception-2015-12-05-6726825d.pth")` to `table2_fid_kid`
# (or allow the download on a machine with network access).

# %% [markdown]
# ## On real MNIST (optional)
#
# `benchmarks/real_table2.py` makes Table 2 on real MNIST: the first correctly classified test
# images (their count is printed below), attacked through the C&W classifier by MinMax (ε = 1,
# random sampling over several seeds, and conv mode), by the same loop without the MI term, and
# by PGD at ε = 1 and 0.3; every set is scored against clean test images that were not attacked,
# with the offline extractor. The
# verdicts come from a **paired** test: A[i] and B[i] attack the same image, so swapping them at
# random gives KID(A) − KID(B) under "the two attacks are exchangeable" (a sign-flip permutation
# test, `uaelab.evaluate.fidelity.kid_paired_test`), on the images both attacks made adversarial. Tables
# and verdicts are read from `results/real/`:

# %%
from IPython.display import Image

from uaelab.claims import claims_table
from uaelab.experiments.fid_kid import real_table2

t2 = real_table2()
if t2 is None:
    print("not run yet on this checkout (benchmarks/real_table2.py)")
else:
    cfg = t2["config"]
    print(f"{cfg['n']} MNIST test images, MinMax T = {cfg['T']} (preset {cfg['preset']}),",
          f"reference: {cfg['reference']} clean test images;",
          f"{cfg['wall_s'] / 60:.0f} min on {cfg['threads']} CPU thread(s)")
    print("deviations:", "; ".join(cfg["deviations"]))
    print("command:", cfg["command"])
    display(t2["table"].set_index("method").round(3))
    t2_claims = claims_table()
    t2_claims = t2_claims[t2_claims["id"].str.startswith("t2-")]
    display(t2_claims[["claim", "n_a", "mean_a", "mean_b", "p_diff", "p_diff_adj", "verdict"]].set_index("claim"))
    display(Image(filename=str(t2["figure"]), width=520))
t2 is not None

# %% [markdown]
# **What to look at.** The `clean (the attacked images)` row is the floor: clean digits scored
# against other clean digits. PGD at ε = 1 replaces the digit by noise; read how far each MinMax
# row sits from that and from the floor. The control row decides what MINE contributes: MinMax
# against the loop without the MI term is {verdict:t2-minmax-vs-no-mi}. Read with the test: the
# run saved only the permutation p values (Holm-adjusted over the five comparisons in the table),
# not the per-image KID terms, so no equivalence test is possible and a non-significant row is
# *inconclusive*, not evidence that the two are the same. The paired sign-flip permutation test is
# uaelab's own (`uaelab.evaluate.fidelity.kid_paired_test`, checked against torch-fidelity's KID), because
# neither scipy nor statsmodels computes KID. The extractor is a second MNIST classifier, so compare rows with each other, never with
# the paper's Inception numbers printed beside them.

# %% [markdown]
# **Profiles.** Everything above ran in the `quick` profile (embedded 8×8 digits, small sample
# counts, CPU seconds). Start Jupyter with `UAELAB_PROFILE=paper` to switch every call to the
# paper's settings (MNIST from `../shared/data`, `$UAELAB_DATA` or a download; the paper's
# sample counts and iterations; meant for a GPU). `make reproduce` writes the same tables and
# figures to `results/<profile>/` and `figures/<profile>/`.

# %% [markdown]
# ## Exercises
#
# Checkers: `uaelab.exercises.nb05`. Worked answers: `solutions/05_fid_kid_solutions.ipynb`.
#
# **Exercise 1** (★☆☆ warm-up). You have 200 adversarial examples and 50 000 training images. What KID subset
# size can torch-fidelity use (its default is 1000)?

# %%
check_kid_subset_size(200, 50000, 1000)  # ← replace 1000

# %% [markdown]
# **Exercise 2** (★★★ stretch). Write the Fréchet distance between two Gaussians given their means and
# covariances (numpy arrays). Hint: `scipy.linalg.sqrtm`.

# %%
import numpy as np


def frechet(mu1, cov1, mu2, cov2):
    raise NotImplementedError  # ← your code


check_fid_gaussians(frechet)

# %% [markdown]
# > **Key takeaways**
# >
# > * FID/KID compare feature distributions; always report the extractor and the clean-data floor.
# > * The quick profile's examples are far from the data in feature space (KID several times the clean row).
# > * The controls give the same FID/KID: the MI term does not make these examples more realistic.

# %% [markdown] tags=["solution"]
# # 05 · Solutions
#
# Worked answers to the exercises of `05_fid_kid.ipynb`.

# %% tags=["solution"]
from uaelab.exercises import strict

strict()  # worked answers must pass their checkers: a rejected one raises ExerciseFailed

# %% tags=["solution"]
# NBVAL_CHECK_OUTPUT
from uaelab.exercises.nb05 import check_fid_gaussians, check_kid_subset_size

# Exercise 1: subsets are drawn without replacement from the smaller set
check_kid_subset_size(200, 50000, min(1000, 200, 50000))

# %% tags=["solution"]
# NBVAL_CHECK_OUTPUT
import numpy as np
import scipy.linalg


# Exercise 2: the matrix square root of cov1 @ cov2 (its real part; tiny imaginary noise is dropped)
def frechet(mu1, cov1, mu2, cov2):
    covmean = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * covmean))


check_fid_gaussians(frechet)
