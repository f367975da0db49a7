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
# # 02 · Supervised attacks with MINE: the MinMax algorithm
#
# **Teaching time:** about 45 minutes with every exercise (25 on the [3-hour path](../docs/workshop.md)) · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * write the C&W margin and the MinMax game of Algorithm 1
# * run untargeted and targeted MinMax attacks and read their success rate and perturbation sizes
# * test a causal claim with controls: untrained MINE (`mine.steps=0`), no MI term, the exact MI
#
# **Before you start**
#
# * notebook 01
# * what an adversarial example is (a misclassified, slightly changed input)
#
# A *supervised* adversarial example fools a classifier: $x' = x+\delta$ is classified as
# something other than its label $y$ (untargeted) or as a chosen class $t$ (targeted). The paper
# asks for the $x'$ **most similar** to $x$ by per-sample MINE:
#
# $$\max_\delta\; I_\Theta(x, x+\delta)\quad\text{s.t.}\quad x+\delta\in[0,1]^d,\;\; |\delta|_\infty\le\epsilon,\;\; f_x(x+\delta)\le 0,$$
#
# with the Carlini–Wagner margin ([Carlini & Wagner, 2017](https://arxiv.org/abs/1608.04644)) $f_x(x') = \mathrm{logit}_y(x') - \max_{j\ne y}\mathrm{logit}_j(x') + \kappa$
# (targeted: $\max_{j\ne t}\mathrm{logit}_j - \mathrm{logit}_t + \kappa$). $f_x \le 0$ means the attack
# succeeded with a logit gap of at least $\kappa$.
#
# **MinMax (Algorithm 1)** turns the constraint into a game, $\min_\delta \max_{c\ge0}\; c\,f_x^+(x+\delta) - I_\Theta(x, x+\delta)$:
# each iteration takes a gradient step of size $\alpha$ on $\delta$, projects it back into the
# boxes, trains MINE one step, and raises $c$ by $\beta f_x^+$ while the attack still fails
# (letting it decay as $1-\beta/t^{1/4}$ once it succeeds). The best successful iterate (largest
# MI) is returned.

# %%
from IPython.display import display

from uaelab.config import active_profile
from uaelab.viz.plotting import show
from uaelab.viz.widgets import explore, slider

print("profile:", active_profile())
from uaelab.exercises.nb02 import check_cw_margin, check_small_epsilon, check_targeted
from uaelab.experiments.supervised import SupervisedSettings, attack_demo, small_attack, supervised_attack

# %% [markdown]
# ## The attack on the digits classifier
#
# The quick profile attacks correctly classified test digits with the zoo's small CNN
# (random-sampling MINE, $\epsilon = 1$, i.e. no $L_\infty$ bound); the paper profile uses the
# Carlini–Wagner MNIST network on MNIST with conv MINE. The settings:

# %%
# NBVAL_CHECK_OUTPUT
print(SupervisedSettings.from_profile())

# %%
res = supervised_attack()
res.tables["summary"].round(3)

# %% [markdown]
# The attack success rate (a fraction) of both attacks, checked by the tests:

# %%
# NBVAL_CHECK_OUTPUT
print(res.tables["summary"][["samples", "success_rate"]].round(2).to_string())

# %%
res.figures["untargeted"]

# %%
res.figures["targeted"]

# %% [markdown]
# **What to look at.** Titles read *label → prediction*. The difference row (grey = unchanged)
# shows *where* MinMax changed the image, but each image is rescaled to its own largest change, so
# it hides how large the change is; the shared-scale view comes with the controls below. The paper
# credits MINE for keeping the image's structure — the controls below test that. The targeted
# attack needs larger changes (`mean_l2`, checked in the next cell) since it must reach one
# particular class. `mean_mi` is small in absolute terms: with the released code's MINE learning
# rate (1.5e-5, one step per iteration) the statistics networks are far from converged after a
# hundred iterations; it grows with the number of iterations (notebook 04).

# %%
summary = res.tables["summary"]
print(summary["mean_l2"].round(3).to_string())
assert summary.loc["targeted (y+1)", "mean_l2"] > summary.loc["untargeted", "mean_l2"], "targeted needs larger changes"

# %% [markdown]
# ## Is it the MI? Three controls
#
# The claim above — MINE keeps the image's structure — needs a control. The same attack, on the
# same samples, with the MI term changed (`uaelab.experiments.supervised.ABLATIONS`):
#
# * **MINE, untrained**: `mine.steps=0`, the statistics networks are never trained;
# * **no MI term**: `make_attack("no-mi", ...)`, Algorithm 1 with only $c\,f^+$ moving $\delta$;
# * **closed-form MI**: the exact MI of random-sampling mode (notebook 01, section 3),
#   $-\tfrac{m}{2}\log(1-\cos^2(x, x'))$, maximised instead of the MINE estimate.
#
# `max_diff_vs_mine` is the largest per-pixel difference between a row's adversarial images and
# the MINE row's; `mean_cos` the cosine similarity of $x$ and $x'$ (higher = more similar).

# %%
from uaelab.experiments.supervised import ABLATIONS, ablation, ablation_figure

abl = ablation()
abl.round(4)

# %% [markdown]
# The same samples, every row's perturbation $\delta = x' - x$ on **one absolute colour scale**
# (`uaelab.viz.plotting.perturbation_grid`), its $L_\infty$ norm above each cell:

# %%
ablation_figure()

# %%
# NBVAL_CHECK_OUTPUT
mine, untrained, none, exact = (abl.loc[k] for k in ABLATIONS)
print("the controls succeed as often as MINE:", bool(untrained.success_rate == none.success_rate == mine.success_rate))
print("untrained MINE and no MI term stay within 0.1 per pixel of MINE's images:",
      bool(max(untrained.max_diff_vs_mine, none.max_diff_vs_mine) < 0.1))
print("the exact MI keeps x' more similar to x than MINE (higher cosine):", bool(exact.mean_cos > mine.mean_cos))
assert exact.mean_l2 < mine.mean_l2, 'the exact MI gives smaller L2 perturbations than MINE'


# %% [markdown]
# **What to look at.** With the released learning rate and one MINE step per iteration, the
# statistics networks hardly learn: the MINE row, the untrained row and the row without any MI
# term return nearly the same images, so what looked like "MINE keeps the structure" is the
# C&W criterion's gradient alone. The **exact** MI does act: maximising it keeps $x'$ closer to $x$
# (higher cosine, smaller $L_2$) — what the paper attributes to MINE is what a well-estimated
# MI would do.
#
# ### Try it
# The knobs that matter: the MI term, the $L_\infty$ bound $\epsilon$, the number of
# iterations $T$ and the target class.

# %%
def show_attack(mi="MINE", epsilon=1.0, T=50, target=-1):
    display(attack_demo(epsilon=epsilon, T=T, target=target, mi=mi))


explore(show_attack, mi=list(ABLATIONS), epsilon=slider(0.05, 1.0, 0.05, 1.0), T=slider(10, 200, 10, 50),
        target=[("untargeted", -1)] + [(str(c), c) for c in range(10)])

# %% [markdown]
# Things to try: a small $\epsilon$ (0.1) makes some attacks fail — their adversarial image is
# crossed out and equals the original; switch the MI term and compare the difference rows.
# `attack_demo` also takes $\kappa$ (a confident misclassification costs larger perturbations),
# $\alpha$ and $\beta$ ($\beta = 0$ freezes $c$ at 0: nothing pushes towards misclassification).

# %% [markdown]
# **Profiles.** Everything above ran in the `quick` profile (embedded 8×8 digits, small sample
# counts, CPU seconds). Start Jupyter with `UAELAB_PROFILE=paper` to switch every call to the
# paper's settings (MNIST from `../shared/data`, `$UAELAB_DATA` or a download; the paper's
# sample counts and iterations; meant for a GPU). `make reproduce` writes the same tables and
# figures to `results/<profile>/` and `figures/<profile>/`.

# %% [markdown]
# ## Exercises
#
# Checkers: `uaelab.exercises.nb02`. Worked answers: `solutions/02_supervised_attacks_solutions.ipynb`.
#
# **Exercise 1** (★☆☆ warm-up). Write the untargeted C&W margin for a batch: `fn(logits [B, classes], y [B]) -> [B]`
# with $\kappa = 0$.

# %%
import torch


def margin(logits, y):
    raise NotImplementedError  # ← your code


check_cw_margin(margin)

# %% [markdown]
# **Exercise 2** (★★☆ core). Find an $\epsilon$ small enough that the untargeted attack fails on at least
# half of 8 samples (the checker runs the attack, about a second).

# %%
check_small_epsilon(1.0)  # ← try smaller values

# %% [markdown]
# **Exercise 3** (★★☆ core). Run a *targeted* attack towards class 3 with `small_attack(...)` (it returns
# the attacked images `x`, the adversarial images `x_adv` and the `success` flags) and check it: the
# checker runs the classifier on your `x_adv` and checks that they lie within ε of your `x`.

# %%
out = small_attack(T=50, n=6, avoid=3)  # ← make it targeted
check_targeted(3, out["x"], out["x_adv"], out["success"])

# %% [markdown]
# > **Key takeaways**
# >
# > * MinMax turns the constraint f ≤ 0 into a game in which c rises while the attack fails.
# > * With the released MINE budget the MINE, untrained-MINE and no-MI attacks return nearly the same images: the C&W criterion shapes them.
# > * The exact MI does act (higher cosine, smaller L2): a claim about MINE needs its control beside it.

# %% [markdown] tags=["solution"]
# # 02 · Solutions
#
# Worked answers to the exercises of `02_supervised_attacks.ipynb`.

# %% tags=["solution"]
from uaelab.exercises import strict

strict()  # worked answers must pass their checkers: a rejected one raises ExerciseFailed

# %% tags=["solution"]
# NBVAL_CHECK_OUTPUT
import torch

from uaelab.exercises.nb02 import check_cw_margin, check_small_epsilon, check_targeted
from uaelab.experiments.supervised import small_attack


# Exercise 1: mask the true class with -inf before taking the max over the others
def margin(logits, y):
    own = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf"))
    return own - others.amax(1)


check_cw_margin(margin)

# %% tags=["solution"]
# Exercise 2: at eps = 0.02 no digit can be pushed across the decision boundary
check_small_epsilon(0.02)

# %% tags=["solution"]
# Exercise 3: target=3 (samples of class 3 are skipped automatically)
out = small_attack(T=50, n=6, target=3)
check_targeted(3, out["x"], out["x_adv"], out["success"])
