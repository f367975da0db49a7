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
# # 08 · UAEs for contrastive learning: SimCLR (paper Table 5)
#
# **Teaching time:** about 35 minutes with every exercise (15 on the [3-hour path](../docs/workshop.md)) · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * write the NT-Xent loss and the PGD projection
# * generate UAEs against a contrastive loss and retrain SimCLR on them
# * say for a run whether each metric moved in the paper's direction and beat Duplicate
#
# **Before you start**
#
# * notebook 06
# * softmax cross-entropy
#
# **SimCLR** ([Chen et al., 2020](https://arxiv.org/abs/2002.05709)) learns representations without labels: two random augmentations (crop, flip, colour
# jitter) of each image are pulled together and pushed away from the other images of the batch by
# the **NT-Xent** loss. A linear classifier on the frozen representation ("linear probe") then
# measures how good it is.
#
# Section 4.6 generates MINE-UAEs against this contrastive loss: x' succeeds when its contrastive
# loss against x's views is no greater than x's own, while I(x; x') is minimised. Retraining on
# original + UAEs lowered the test contrastive loss by 7.8% and raised the linear-probe accuracy by
# 1.58 points on CIFAR-10 (ResNet-18, batch 512, 1000 epochs). SuppMat 6.17 adds that the retrained
# model is more **robust**: we measure the linear probe's accuracy under an L∞ PGD attack on
# encoder + probe, before and after augmentation.
#
# The quick profile uses a small CNN encoder on 8×8 digits; the paper profile ResNet-18 on CIFAR-10
# (a GPU job). As before, **Duplicate** (original + exact copy) controls for the doubled training.

# %%
import torch

from uaelab.augment import AugmentSettings, generate, original_model, parse_method
from uaelab.experiments.table5_simclr import (PAPER, SimclrTask, Table5Settings, fit_probe, load_data,
                                              table5_rows, table5_simclr)
from IPython.display import display

from uaelab.models.simclr import nt_xent, simclr_augment
from uaelab.viz.plotting import image_grid, perturbation_grid
from uaelab.viz.widgets import explore, slider
from uaelab.config import active_profile

if active_profile() == "quick":
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and shares a busy CPU far better

settings = Table5Settings.from_profile()
aug = AugmentSettings.from_profile(methods=("original", "mine-uae", "duplicate"))
print(settings)

# %% [markdown]
# ## The two views
#
# Each training step draws two augmentations of every image; NT-Xent treats the pair as the
# positive and the other 2N − 2 views of the batch as negatives:

# %%
data = load_data(settings)
print(data)
augment = simclr_augment(data.sample_shape)
torch.manual_seed(0)
x = data.x_train[:8]
image_grid(torch.stack([x, augment(x), augment(x)]), row_titles=["image", "view 1", "view 2"], scale=0.8)

# %% [markdown]
# ## Pretrain, attack, retrain
#
# The original SimCLR model (cached), then one MINE-UAE per training image against its
# contrastive loss (resumable, with a progress bar, as in notebook 06):

# %%
task = SimclrTask(settings)
model = original_model(task, data, seed=aug.model_seed)
print({k: round(v, 4) for k, v in task.evaluate(model, data).items()})

# %%
out_dir, x_adv, success = generate(task, model, data.x_train, parse_method("mine-uae"), seed=aug.seeds[0],
                                   settings=aug, data_fp=data.fingerprint())
print(f"ASR = {success.float().mean():.3f}")
perturbation_grid(data.x_train[:8], {"MINE-UAE": (x_adv[:8], success[:8])}, scale=0.8,
                  title="MINE-UAEs against SimCLR")

# %% [markdown]
# ## The table
#
# Contrastive test loss (↑ = lower, relative), linear-probe accuracy and PGD accuracy (changes are
# differences of fractions), and the ASR:

# %%
result = table5_simclr()
result.tables["paper_style"]

# %%
result.tables["vs_paper"]

# %% [markdown]
# This run against the paper's directions, and against Duplicate (every line is computed from the
# table above; ↑ = the paper's direction):

# %%
runs = result.tables["summary"].droplevel("model")
mine, dup = runs.loc["MINE-UAE"], runs.loc["Duplicate"]
for col, what in (("loss_improvement", "contrastive loss, relative improvement"),
                  ("accuracy_improvement", "linear-probe accuracy change"),
                  ("pgd_accuracy_improvement", "PGD accuracy change")):
    way = "the paper's direction" if mine[col] > 0 else "AGAINST the paper"
    vs = "beats" if mine[col] > dup[col] else "does not beat"
    print(f"{what}: MINE-UAE {mine[col]:+.4f} ({way}); Duplicate {dup[col]:+.4f}: MINE-UAE {vs} Duplicate")
print("training runs per row:", int(mine["runs"]))
n_test = len(data.y_test)
p = float(runs.loc["Original", "accuracy"])
print(f"binomial standard error of a probe accuracy near {p:.3f} on {n_test} test images: "
      f"{100 * (p * (1 - p) / n_test) ** 0.5:.1f} points")


# %% [markdown]
# **What to look at.**
#
# * Does MINE-UAE lower the contrastive test loss and raise the probe accuracy, and by more than
#   **Duplicate**? The lines above say it for this run, including where the quick result goes
#   *against* the paper. The last line above is the standard error of a probe accuracy from the
#   sampling of the test images alone; each row here is also one training run, so small differences are
#   noise (notebook 09 gives verdicts over seeds); the paper's +1.58 points is on the full
#   CIFAR-10 test set.
# * `pgd_accuracy`: the probe's accuracy under PGD (ε = `settings.pgd_eps`). The paper claims it
#   rises after augmentation.
# * The contrastive loss depends on the batch size (more negatives, higher loss), so it is only
#   comparable at equal batch size; we evaluate at the training batch size.
#
# ### Try it
# Browse the UAEs, eight training images at a time, with their perturbations on a fixed scale:

# %%
def show_uaes(first=0):
    sl = slice(first, first + 8)
    fig = perturbation_grid(data.x_train[sl], {"MINE-UAE": (x_adv[sl], success[sl])}, vmax=0.5, scale=0.8,
                            title=f"training images {first}-{first + 7}: MINE-UAEs against SimCLR")
    print(f"success {float(success[sl].float().mean()):.2f}, mean L∞ {float(fig.linf['MINE-UAE'].mean()):.4f}")
    display(fig)


explore(show_uaes, first=slider(0, 56, 8, 0))

# %% [markdown]
# ## What the authors' SimCLR criterion computes
#
# The released attack (`contrast_attack.py`, preset `reference_code` here) does not compare x' with
# views of x. For each image it builds a batch of 50 **copies** of x', two "views" each, and takes
# SimCLR's NT-Xent loss of that batch; the criterion is that loss minus the same for x. Its views
# come from SimCLR's preprocessing with `is_training=False`, which is the identity: all 100 views
# are one embedding. Then every similarity in the batch is the same number, and the loss of *any*
# image is
#
# $$L = 2\,\log(2\cdot 50 - 1) = 2\log 99,$$
#
# so f = L(x') − L(x) is zero up to float rounding. The criterion constrains nothing; whether an
# iterate "succeeds" (f ≤ 0) is decided by rounding, and the UAE is the iterate with the lowest MI
# from a random start. `uaelab.attacks.criteria.TiledContrastive` implements it, and
# `criterion_check` measures it on a model (here the quick one):

# %%
import math

from uaelab.attacks.criteria import TiledContrastive
from uaelab.experiments.table5_simclr import criterion_check, real_table5

crit = TiledContrastive(model, data.x_test[:16], copies=50)
print(f"closed form 2·log 99 = {crit.constant():.6f}; L(x) of 16 test images: "
      f"{float(crit.base.min()):.6f} … {float(crit.base.max()):.6f}")
check = criterion_check(model, data.x_test)
display(check)
assert abs(check["loss_min"].iloc[0] - 2 * math.log(99)) < 1e-4 and check["max_abs_f"].iloc[0] < 1e-4

# %% [markdown]
# ### Real data: a Fashion-MNIST analogue (optional)
#
# CIFAR-10 cannot be had here, so `benchmarks/real_table5.py` runs the same pipeline on
# Fashion-MNIST with the small encoder and the released attack (tiled criterion, t^½ dual step;
# random-projection MINE at the Table 4 budget), with Duplicate, no-MI, the random start alone and
# Gaussian noise beside MINE-UAE, over retraining seeds. Its verdicts, read from `results/real/`
# (the run's budget is in its notes):

# %%
from uaelab.claims import claims_rows

full = real_table5()
if full is None:
    print("not run yet on this checkout: python benchmarks/real_table5.py --tag full (see its docstring)")
else:
    print(full["notes"])
    display(full["criterion"])
    display(claims_rows("t5-"))  # paired over retraining seeds, TOST, Holm within each metric

# %% [markdown]
# ## Exercises
#
# **Exercise 1** (★☆☆ warm-up). PGD needs a projection after each step: bring `x_adv` back into the L∞ ball of radius ε
# around `x`, and into the valid image range.

# %%
from uaelab.exercises.nb08 import check_nt_xent, check_project

def project(x_adv, x, eps):
    raise NotImplementedError  # your code here

check_project(project)

# %% [markdown]
# **Exercise 2** (★★☆ core). Implement the NT-Xent loss for N positive pairs `(z1[i], z2[i])`: cosine similarities
# divided by the temperature, each of the 2N embeddings an anchor whose positive is its pair and
# whose negatives are the other 2N − 2 embeddings; average the cross-entropy over the anchors.

# %%
def my_nt_xent(z1, z2, temperature):
    raise NotImplementedError  # your code here

check_nt_xent(my_nt_xent)


# %% [markdown]
# Worked answers: `solutions/08_uae_simclr_solutions.ipynb`.

# %% [markdown]
# > **Key takeaways**
# >
# > * NT-Xent: each view's positive is its pair, its negatives the other 2N − 2 views.
# > * The quick run's directions are printed, not assumed; the binomial standard error printed above says how large a
# >   difference one run can show.
# > * The released SimCLR criterion is a constant for identical views (2·log(2·copies − 1)): the claim that it
# >   constrains the UAEs is {verdict:t5-criterion-constrains} on the Fashion-MNIST run, so MINE-UAEs for SimCLR
# >   are shaped only by the MI term and their random start.

# %% [markdown] tags=["solution"]
# # 08 · Solutions

# %% tags=["solution"]
from uaelab.exercises import strict

strict()  # worked answers must pass their checkers: a rejected one raises ExerciseFailed

# %% tags=["solution"]
import torch
import torch.nn.functional as F

from uaelab.exercises.nb08 import check_nt_xent, check_project

# Exercise 1
def project(x_adv, x, eps):
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)

check_project(project)


# %% tags=["solution"]
# Exercise 2
def my_nt_xent(z1, z2, temperature):
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)               # cosine similarity = dot of unit vectors
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))                          # an anchor is not its own negative
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, positive)                      # mean over the 2N anchors

check_nt_xent(my_nt_xent)
