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
# # 00 · Quickstart: data, figures and a map of the tutorial
#
# **Teaching time:** about 20 minutes (15 on the [3-hour path](../docs/workshop.md)) · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): [glossary](../docs/glossary.md) · paper: [Hsu et al., AAAI 2022](https://arxiv.org/abs/2103.01895)
#
# **You will learn to**
#
# * load a dataset and read its shapes and value range
# * draw image grids, and perturbations on one shared colour scale
# * choose a profile (compute budget) and point uaelab at real data
#
# **Before you start**
#
# * Python and a little PyTorch (tensors, shapes)
# * nothing about adversarial examples yet: the series builds it up
#
# **uaelab** re-implements and teaches *unsupervised adversarial examples* (UAEs) from
# Hsu et al., *Adversarial Examples Can Be Effective Data Augmentation for Unsupervised Machine
# Learning* (AAAI 2022), and checks which of its claims reproduce. A UAE is a small perturbation $x+\delta$ of a sample that makes an
# **unsupervised** model's loss worse (e.g. an autoencoder's reconstruction error) while keeping
# $x+\delta$ *similar* to $x$ — similarity measured by the **mutual information** between $x$ and
# $x+\delta$, estimated per sample with MINE. The paper reports that training again with these UAEs
# added to the data makes the model better. On real MNIST the committed runs find the sparse
# autoencoder's gain over no augmentation {verdict:t4-sparse-vs-original}, but its gain over an
# exact duplicate of the data {verdict:t4-sparse-vs-duplicate}: notebook 09 gives every verdict and
# the reasons.
#
# This notebook is the starting point. It shows how to
#
# 1. load a dataset with `uaelab.data` (here the small digits set that ships with scikit-learn),
# 2. draw image grids with `uaelab.viz.plotting`,
# 3. choose how much compute to spend (*profiles*) and where real data comes from.
#
# Run the cells from top to bottom (Shift+Enter).

# %% [markdown]
# ## The tutorial series
#
# | notebook | topic | paper artefact |
# |---|---|---|
# | `01` | per-sample MINE: estimating mutual information from one sample, and its closed form | §3.1 |
# | `02` | supervised attacks with MINE: the MinMax algorithm, and controls without MI | §3 |
# | `03` | sweeping the perturbation bound ε; failed attacks marked with a red ✗ | Figure 3 |
# | `04` | MinMax vs. penalty (binary search) attacks | Table 3, Figure 2 |
# | `05` | how realistic are adversarial examples? FID / KID | Table 2, Figure 1 |
# | `06` | UAE augmentation for autoencoder reconstruction | Table 4 |
# | `07` | UAE augmentation for the concrete autoencoder (feature selection) | Table 6 |
# | `08` | UAE augmentation for contrastive learning (SimCLR) | Table 5 |
# | `09` | what reproduces: every claim with its measured verdict | all |
#
# Every notebook reads its settings from a **profile**:
#
# * `quick` (default): embedded data and small subsets; every notebook runs on a laptop CPU in minutes.
# * `paper`: the paper's datasets and hyper-parameters; meant for a GPU.
#
# Pick one with the environment variable `UAELAB_PROFILE` before starting Jupyter
# (`UAELAB_PROFILE=paper jupyter lab`), and `python -m uaelab reproduce --profile paper`
# writes every figure and table for that profile.

# %%
import torch

from uaelab.data import DATASETS, DataSettings, load, load_dataset
from uaelab.viz.plotting import comparison_grid, image_grid, show
from uaelab.viz.widgets import explore, slider

print("datasets:", ", ".join(DATASETS), "or a path to a CSV file")

# %% [markdown]
# ## Load data
#
# `load_dataset(name, limit=..., seed=...)` returns a `DataSplits` with train and test tensors.
# Images are `float32` tensors of shape N×C×H×W with values in [0, 1]; labels are `int64`.
# Datasets without an official test split (like digits) are split by `seed`, stratified by class,
# so the same seed always gives the same split. The output below is checked by the tests.

# %%
# NBVAL_CHECK_OUTPUT
digits = load_dataset("digits", seed=0)
print(digits)
for split in ("train", "test"):
    x, y = getattr(digits, f"x_{split}"), getattr(digits, f"y_{split}")
    print(f"{split:5s} x {tuple(x.shape)} {x.dtype} in [{x.min():.2f}, {x.max():.2f}]  "
          f"y {tuple(y.shape)} {y.dtype}")
print("test samples per class:", digits.y_test.bincount().tolist())
print("classes:", digits.class_names)
print("fingerprint:", digits.fingerprint())

# %% [markdown]
# `limit` picks a **class-balanced** subset of the training split (and `test_limit` of the test
# split), again determined by `seed`:

# %%
# NBVAL_CHECK_OUTPUT
small = load_dataset("digits", limit=50, test_limit=20, seed=0)
print(small)
print("train per class:", small.y_train.bincount().tolist())

# %% [markdown]
# ## Look at it
#
# `image_grid` takes a batch N×C×H×W (or rows of images: R×Cols×C×H×W) and returns a matplotlib
# figure. Here: one row per class, the first ten training images of each.

# %%
rows = torch.stack([digits.x_train[digits.y_train == c][:10] for c in range(digits.n_classes)])
image_grid(rows, row_titles=digits.class_names, scale=0.6, title="digits: ten training images per class")

# %% [markdown]
# Later notebooks compare clean and adversarial images with `comparison_grid`: the rows are the
# original, the perturbed image and their signed difference (grey = unchanged). A red ✗ marks
# samples where the attack failed, as in the paper's Figure 3. Here random noise stands in for an
# attack, and we pretend that every third one failed:

# %%
g = torch.Generator().manual_seed(0)
x = digits.x_test[:6]
x_noisy = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
success = torch.tensor([i % 3 != 2 for i in range(6)])
comparison_grid(x, x_noisy, success=success, scale=0.8)

# %% [markdown]
# The difference row of `comparison_grid` rescales each image to its own largest change, so a tiny
# perturbation looks as strong as a large one. To compare sizes, `perturbation_grid` draws every
# perturbation δ = x' − x on **one absolute colour scale** with a colour bar, and prints each δ's
# $L_\infty$ norm (the largest pixel change; one 8-bit grey level is 1/255 ≈ 0.004):

# %%
from uaelab.viz.plotting import perturbation_grid

x_faint = (x + 0.01 * torch.randn(x.shape, generator=g)).clamp(0, 1)
perturbation_grid(x, {"noise σ=0.15": (x_noisy, success), "noise σ=0.01": x_faint}, scale=0.8)


# %% [markdown]
# ### Try it
#
# Move the sliders to pick a digit class and how many of its images to show. (When the notebook
# runs without a live Jupyter front end, the cell just draws the default choice.)

# %%
def show_class(digit=3, count=16):
    x = digits.x_train[digits.y_train == digit][:count]
    show(image_grid(x, nrow=8, scale=0.6, title=f"digit {digit}: {len(x)} training images"))


explore(show_class, digit=slider(0, 9, 1, 3), count=slider(1, 32, 1, 16))

# %% [markdown]
# ## Profiles and settings
#
# Each component describes its knobs as a typed settings object whose defaults are the paper's
# values. `from_profile()` applies the active profile (`$UAELAB_PROFILE`, default `quick`);
# keyword arguments override single fields. For data, `quick` means the embedded digits; `paper`
# means MNIST.

# %%
settings = DataSettings.from_profile()  # the active profile
print(settings)
print("paper:", DataSettings.from_profile("paper"))
data = load(settings)
data

# %% [markdown]
# ## Real data (optional)
#
# The image datasets of the paper (`mnist`, `fashion-mnist`, `cifar10`, `svhn`) are read in
# torchvision's folder layout and downloaded on first use when the machine is online; `coil20`
# (a folder of `objN__P.png`) and `isolet` (UCI `isolet5.data`) must be put there by hand. uaelab
# looks for them in
#
# 1. the `root=` argument (`data.root` in settings),
# 2. the folder in the environment variable **`UAELAB_DATA`**,
# 3. the cache folder `~/.cache/uaelab/data` (or `$UAELAB_CACHE/data`).
#
# For example, with `UAELAB_DATA=/data` holding `MNIST/raw/*.gz`:
#
# ```python
# mnist = load_dataset("mnist", limit=1000)          # 1000 training images, 100 per class
# coil = load_dataset("coil20", image_size=20)        # 20×20 COIL-20, as for the concrete autoencoder
# table = load_dataset("my_table.csv", label_column="target", nan_policy="drop")
# ```
#
# A read-only data folder is fine: archives are extracted into the cache instead. Problems come
# back as a `ValueError` that says what to fix:

# %%
# NBVAL_CHECK_OUTPUT
try:
    load_dataset("minst")
except ValueError as err:
    print(err)

# %% [markdown]
# ## Next
#
# Continue with **`01_per_sample_mine.ipynb`**: how to estimate the mutual information between a
# single image and its perturbed copy, the similarity measure behind every attack in this series.
# Teaching the series? `docs/workshop.md` has a 3-hour agenda.

# %% [markdown]
# > **Key takeaways**
# >
# > * Images are float tensors N×C×H×W in [0, 1]; one grey level is 1/255.
# > * Compare perturbations on one absolute scale (`perturbation_grid`), never per-image rescaled.
# > * `quick` runs everything on a CPU in minutes on the embedded digits; `paper` needs real data and a GPU.
# > * Settings are typed objects whose defaults are the paper's; profiles and keyword overrides change them.
