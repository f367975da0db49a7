"""Build notebooks 06-08 (UAEs as data augmentation) and their solutions.

Run from the repository root:  .venv/bin/python notebooks/_src/build_part2.py [--execute]

The notebooks are stored without outputs: no cell is marked ``# NBVAL_CHECK_OUTPUT`` (their
results depend on training), so nbval only checks that every cell runs. ``--execute`` runs each
built notebook once headless in the quick profile as a smoke test (outputs are not kept).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import STRICT_SOURCE, intro, ref, takeaways  # noqa: E402  (notebooks/_src/nbtools.py)

HERE = Path(__file__).resolve().parent.parent  # notebooks/
md, code = new_markdown_cell, new_code_cell

# -----------------------------------------------------------------------------------------
NB06 = [
    md("""\
# 06 · UAEs as data augmentation for autoencoders (paper Table 4)

This is the paper's main claim: **unsupervised adversarial examples (UAEs) make good training
data.** For an autoencoder Φ, a UAE of a training image x is a perturbed image x' = x + δ whose
reconstruction is *no worse* than x's own,

$$\\|x - \\Phi(x')\\|_2 \\le \\|x - \\Phi(x)\\|_2 ,$$

while x' is as *dissimilar* to x as possible, measured by the per-sample mutual information
I(x; x') (the MinMax attack of notebook 02 *minimises* MI here). Such samples lie where the model
already works but the data did not go: adding them to the training set and retraining should
lower the test error.

The pipeline (all in `uaelab.augment`, shared by notebooks 06–08):

1. train the original model;
2. generate **one example per training sample** with a method: **MINE-UAE** (MinMax, minimise MI),
   **L2-UAE** (same loop, but maximise the reconstruction loss instead of minimising MI) or
   **GA**, Gaussian noise of std σ. The attacks run in the **released code's configuration**
   (`preset="reference_code"`: summed squared errors, a random Glorot-uniform start δ0, c0 = 1e-3),
   which produced the paper's numbers; `Table4Settings(preset="paper")` gives the paper text's;
3. a sample whose attack **fails is replaced by a copy of itself**, so the augmented set is always
   original + N samples (the paper's replication rule). The **ASR** is the fraction of training
   samples whose example succeeded;
4. **retrain from scratch** with the same settings on the augmented set;
5. evaluate on the **untouched test set**; the improvement is relative to the original model, with
   the paper's sign: ↑ (positive) = lower error.

We add rows the paper does not have, the **controls** of its claim:

* **Duplicate**, original + an exact copy of itself. At equal epochs every augmented model takes
  *twice as many gradient steps* as the original; Duplicate takes the same steps with nothing new
  in the data, so it tells how much of an improvement is just the longer training.
* **no-MI**: the same MinMax loop, start and success rule *without the MI term*
  (`make_attack("no-mi", ...)`). If MINE-UAE and no-MI agree, the MI term did not shape the UAEs.
* **closed-form MI**: the exact MI that random-sampling MINE estimates,
  $-\tfrac{m}{2}\log(1-\cos^2(x, x'))$ (notebook 01, section 3), instead of the MINE networks."""),
    code("""\
import torch

from uaelab import store
from uaelab.augment import AugmentSettings, generate, original_model, parse_method
from uaelab.experiments.table4_reconstruction import (PAPER_MNIST, ReconstructionTask, Table4Settings,
                                                      load_data, table4_reconstruction, table4_rows, uae_figure)
from uaelab.plotting import perturbation_grid
from uaelab.widgets import explore
from uaelab.config import active_profile

if active_profile() == "quick":
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and shares a busy CPU far better

settings = Table4Settings.from_profile()   # the profile comes from $UAELAB_PROFILE (default: quick)
aug = AugmentSettings.from_profile()
print(settings)
print(aug)"""),
    md("""\
In the **quick** profile this runs on a few hundred 8×8 digits with short training and a light
MINE (few iterations), so the whole notebook takes a few CPU minutes. The **paper** profile uses
MNIST and the paper's settings; `benchmarks/real_table4.py` runs it on a real MNIST subset.

## Step by step, on one autoencoder

First the data and the original dense autoencoder (trained once and cached on disk):"""),
    code("""\
data = load_data(settings)
print(data)
task = ReconstructionTask("dense", epochs=settings.epochs, attack_set=settings.attack_set,
                          pgd_eps=settings.pgd_eps, pgd_steps=settings.pgd_steps, preset=settings.preset)
model = original_model(task, data, seed=aug.model_seed)
print("test error of the original model:", task.evaluate(model, data)["error"])"""),
    md("""\
Now one MINE-UAE per training image. Generation goes through `uaelab.store.generate_to_dir`: the
results are written in small shards under the cache folder, with a progress bar. **If you
interrupt this cell and run it again, it continues where it stopped** — no sample is lost or
generated twice, and the result is the same as an uninterrupted run."""),
    code("""\
mine = parse_method("mine-uae")
out_dir, x_adv, success = generate(task, model, data.x_train, mine, seed=aug.seeds[0],
                                   settings=aug, data_fp=data.fingerprint())
print(f"ASR = {success.float().mean():.3f} on {len(success)} training images; stored in {out_dir.name}")"""),
    code("""\
perturbation_grid(data.x_train[:8], {"MINE-UAE": (x_adv[:8], success[:8])}, scale=0.8,
                  title="MINE-UAEs against the dense AE (failed ones crossed out)")"""),
    md("""\
A red ✗ marks samples where no iterate met the criterion; those are replaced by the original
itself. The δ row shows each change on an absolute colour scale, with its $L_\\infty$ norm (one
8-bit grey level is 1/255 ≈ 0.004). How far do the UAEs move from their originals, and does the MI term shape them? The same
generation without the MI term (no-MI), compared image by image:"""),
    code("""\
from uaelab.metrics import perturbation_sizes

nomi_dir, x_nomi, success_nomi = generate(task, model, data.x_train, parse_method("no-mi"), seed=aug.seeds[0],
                                          settings=aug, data_fp=data.fingerprint())
sizes = perturbation_sizes(data.x_train, {"MINE-UAE": (x_adv, success), "no-MI": (x_nomi, success_nomi)})
sizes.round(4)"""),
    code("""\
# the claims of the next paragraph, checked: the tests fail if one stops holding
both = success & success_nomi
diff = float((x_adv - x_nomi)[both].abs().amax())
assert sizes.loc["MINE-UAE", "mean_linf"] > 1 / 255, "MINE-UAEs move pixels by more than one grey level"
assert diff < 0.01, "MINE-UAE and no-MI examples differ by less than 0.01 per pixel"
print(f"largest per-pixel difference between the MINE-UAE and no-MI examples: {diff:.4f}")"""),
    md("""\
**What to look at.** With the released start, a UAE is a real perturbation (the `mean_linf`
column, in pixel units of [0, 1]) — but the MI term barely changes it: without MI, the loop returns
nearly the same images. What makes a UAE here is the random start and the reconstruction criterion,
not the mutual information. The table below tests whether that matters for augmentation.

The augmented set and the retrained model:"""),
    code("""\
x_aug, _ = store.augmented_dataset(data.x_train, out_dir)   # originals, then UAE or original again
print("augmented set:", tuple(x_aug.shape))
retrained = task.train(x_aug, None, seed=aug.model_seed)
# the control beside the improvement: the same 2N samples with nothing new (Duplicate)
duplicated = task.train(torch.cat([data.x_train, data.x_train]), None, seed=aug.model_seed)
before = task.evaluate(model, data)["error"]
for name, m in (("MINE-UAE", retrained), ("Duplicate", duplicated)):
    after = task.evaluate(m, data)["error"]
    print(f"{name:9s}: test error {before:.5f} -> {after:.5f}  (improvement {(before - after) / before:+.1%})")"""),
    md("""\
Only the gap between the two lines is due to the UAEs; the rest is the doubled number of
gradient steps. One seed says little: the table below repeats this for every autoencoder."""),
    md("""\
## The whole table

`table4_reconstruction()` does the above for the four autoencoders (sparse, dense, convolutional,
adversarial) and every method, GA over several seeds (mean ± std). Results are cached by their
settings, so running it again is instant. The layout follows the paper's Table 4:"""),
    code("""\
result = table4_reconstruction()
result.tables["paper_style"]"""),
    md("""\
Next to the paper's MNIST numbers (fractions; `improvement` > 0 is better). The values cannot
match on the quick profile (different data, size and training); compare the **directions**:"""),
    code("""\
result.tables["vs_paper"]"""),
    md("""\
The paper's claim per autoencoder: MINE-UAE lowers the test error, and more than L2-UAE and GA.
The last check, `beats Duplicate`, is ours: does MINE-UAE beat simply training twice as long?"""),
    code("""\
result.tables["direction"]"""),
    md("""\
**What to look at.**

* Every augmented model, Duplicate included, usually improves on the original: at equal epochs
  it trains twice as many steps. Only the gap to **Duplicate** is due to the new samples, and only
  the gap to **no-MI** is due to the MI term.
* The **ASR** columns: MINE-UAE succeeds on many samples; where an attack never succeeds (ASR 0)
  its augmented set *is* the Duplicate set, and the two rows agree exactly.
* `train_error` in the summary: the paper's SuppMat 6.10 reports training performance too.
* Run it with `budget="steps"` (`table4_reconstruction(budget="steps")`) to retrain with the
  *same number of gradient steps* instead of the same number of epochs.

Browse the examples of each autoencoder and method:"""),
    code("""\
from IPython.display import display

rows, _, _ = table4_rows()

def show_uaes(kind="dense", method="MINE-UAE"):
    x, x_adv, ok = next(r["examples"] for r in rows if r["model"] == kind and r["method"] == method)
    fig = perturbation_grid(x[:8], {method: (x_adv[:8], ok[:8])}, vmax=0.5, scale=0.8,
                            title=f"{method} against the {kind} AE (δ on a fixed ±0.5 scale)")
    print(f"{method}, {kind} AE: mean L∞ of the shown examples {float(fig.linf[method].mean()):.4f}")
    display(fig)

explore(show_uaes, kind=list(settings.kinds),
        method=["MINE-UAE", "no-MI", "closed-form MI", "L2-UAE", "GA (σ=0.01)", "GA (σ=0.001)"])"""),
    md("""\
### Robustness (SuppMat 6.17)

The paper also reports that augmentation with MINE-UAEs improves adversarial robustness. For an
autoencoder, `pgd_error` is the test reconstruction error under an L∞ PGD attack that *maximises*
the error (radius `settings.pgd_eps`); lower is more robust:"""),
    code("""\
result.tables["summary"][["error", "pgd_error", "pgd_error_improvement", "asr"]]"""),
    md("""\
## Real data

With MNIST on disk (`UAELAB_DATA` or `root=`), the paper profile runs the real experiment, e.g.
`table4_reconstruction("paper", root="../shared/data", train_limit=5000, kinds=("dense",))`. On a
CPU that takes long; `benchmarks/real_table4.py` runs it one autoencoder at a time, resumably, and
writes the tables to `results/real/`.

`benchmarks/uae_released_mnist.py` makes UAEs the way the released code does (dense AE at the
released recipe on all 60,000 training images, the `reference_code` preset, the released MINE
budget) for 1,000 MNIST test images, beside the two ablations. Its table, read from
`results/real/uae_released_mnist.json` (nothing here is typed by hand; `None` when it has not been
run on this checkout):"""),
    code("""\
from uaelab.experiments.table4_reconstruction import released_uae_table

released = released_uae_table()
if released is not None:
    display(released.round(4))
    print("max per-pixel difference MINE-UAE vs no-MI:", released.attrs["max_abs_diff_mine_uae_vs_no_mi"])
    print("command:", released.attrs["command"])
released is not None"""),
    md("""\
The earlier real-data Table 4 runs in `results/real/README_part2.md` used the *paper-text* preset
(L2 norms, δ0 = 0), under which successful MINE-UAEs barely differ from their originals
(`results/real/table4_mnist_dense_perturbations.md`), so their augmented sets were in effect
duplicates; read them as results about that configuration, not the released one.

## Exercises

**1.** Write the improvement with the paper's sign convention, as a fraction."""),
    code("""\
from uaelab.exercises.nb06 import check_augmented_set, check_control, check_improvement

def improvement(original_error, new_error):
    raise NotImplementedError  # your code here

check_improvement(improvement)"""),
    md("""\
**2.** Build the augmented training set from the originals `x`, their examples `x_adv` and the
boolean `success`, following the paper's replication rule."""),
    code("""\
def augmented_set(x, x_adv, success):
    raise NotImplementedError  # your code here

check_augmented_set(augmented_set)"""),
    md("""\
**3.** Which row of the table tells you how much of an improvement is only due to training
twice as many gradient steps? Give its method name."""),
    code("""\
check_control("original")  # replace with your answer"""),
    md("""\
Worked answers: `solutions/06_uae_reconstruction_solutions.ipynb`. Next: **07**, the same idea
for unsupervised *feature selection*."""),
]

SOL06 = [
    md("# 06 · Solutions"),
    code("""\
import torch

from uaelab.exercises.nb06 import check_augmented_set, check_control, check_improvement

def improvement(original_error, new_error):
    return (original_error - new_error) / original_error   # ↑ positive = lower error

check_improvement(improvement)"""),
    code("""\
def augmented_set(x, x_adv, success):
    keep = success.view(-1, *([1] * (x.dim() - 1)))            # broadcast over pixels
    return torch.cat([x, torch.where(keep, x_adv, x)])       # failed -> the original again

check_augmented_set(augmented_set)"""),
    md("Duplicate has the doubled training set but nothing new in it:"),
    code("""\
check_control("duplicate")"""),
]

# -----------------------------------------------------------------------------------------
NB07 = [
    md("""\
# 07 · UAEs for unsupervised feature selection: the concrete autoencoder (paper Table 6)

The **concrete autoencoder** (""" + ref("concrete") + """) selects M of the d input features: its
encoder is a *concrete select layer*, M rows of logits over the inputs. In training each row is a
Gumbel-softmax sample whose temperature is annealed from 10 to 0.1, so it slowly commits to one
input; at test time each row is the argmax, and a decoder reconstructs all d features from the M
selected ones. Good features are those from which the rest can be reconstructed.

Section 4.5 applies MINE-UAE augmentation to it: UAEs against its reconstruction loss, retraining
on original + UAEs, then the authors' **post-hoc evaluation**: test reconstruction error and the
accuracy of Extremely Randomized Trees trained on the **selected features only**. M = 50 (10 when
d is small). The paper finds a lower error and a higher accuracy on 5 of 6 datasets (not COIL-20).

As in notebook 06, the controls stand beside MINE-UAE: **Duplicate** (original + exact copy) for
the doubled number of gradient steps, **no-MI** (the attack without its MI term) and
**closed-form MI** (the exact MI instead of the MINE networks). The attacks use the released
code's configuration (`preset="reference_code"`)."""),
    code("""\
import torch

from uaelab.augment import AugmentSettings, generate, original_model, parse_method
from uaelab.experiments.table6_concrete import (PAPER, TABLE6_METHODS, ConcreteTask, Table6Settings, default_M,
                                                load_data, selection_figure, table6_concrete, table6_rows)
from uaelab.plotting import perturbation_grid
from uaelab.widgets import explore, slider
from uaelab.config import active_profile

if active_profile() == "quick":
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and shares a busy CPU far better

settings = Table6Settings.from_profile()
aug = AugmentSettings.from_profile(methods=TABLE6_METHODS)
print(settings)"""),
    md("""\
Data: images are flattened to N×d tables, since the select layer picks single pixels. For MNIST
and Fashion-MNIST the concrete-AE authors used only the 10k test set, split 40/60 into train and
test (`protocol="test-40-60"`); the quick profile uses the digits' own split."""),
    code("""\
name = settings.datasets[0]
data, image_shape = load_data(name, settings)
M = settings.M or default_M(data.x_train.shape[1])
print(data, "image shape", image_shape, "M =", M)
task = ConcreteTask(M, name, epochs=settings.epochs, attack_set=settings.attack_set, preset=settings.preset)
model = original_model(task, data, seed=aug.model_seed)
metrics = task.evaluate(model, data)
print(f"test error {metrics['error']:.5f}, Extra-Trees accuracy on the {M} selected features "
      f"{metrics['accuracy']:.3f}")"""),
    md("""\
MINE-UAEs against the concrete AE's reconstruction loss. At test time the select layer is a hard
selection, so the reconstruction depends only on the M selected pixels: the criterion's gradient
moves just those, while minimising MI pushes the image away from the original as a whole."""),
    code("""\
out_dir, x_adv, success = generate(task, model, data.x_train, parse_method("mine-uae"), seed=aug.seeds[0],
                                   settings=aug, data_fp=data.fingerprint())
print(f"ASR = {success.float().mean():.3f}")
if len(image_shape) == 3:
    perturbation_grid(data.x_train[:8].view(-1, *image_shape),
                      {"MINE-UAE": (x_adv[:8].view(-1, *image_shape), success[:8])}, scale=0.8,
                      title="MINE-UAEs against the concrete AE")"""),
    md("""\
## The table

Original vs MINE-UAE and its controls for every dataset of the profile:"""),
    code("""\
result = table6_concrete()
result.tables["paper_style"]"""),
    code("""\
result.tables["direction"]"""),
    md("""\
**What to look at.** Every retrained model takes twice the gradient steps, so compare MINE-UAE
with **Duplicate** (new data at all) and **no-MI** (the MI term), not with the original; the
`direction` table answers both for this run. Extra-Trees accuracy on 10 or 50 pixels is noisy:
a difference of one or two points on a few hundred test samples is within the noise of which
features happened to be picked. The paper's own numbers for comparison
(error original, error MINE-UAE, accuracy original, accuracy MINE-UAE):"""),
    code("""\
PAPER"""),
    md("""\
Which pixels were selected, before and after augmentation:"""),
    code("""\
result.figures["selected"]"""),
    md("""\
Compare the selection with a random choice of M pixels (slide the seed):"""),
    code("""\
from uaelab.metrics import extra_trees_accuracy
from uaelab.models.concrete import random_features

sel = model.selected_features()
def random_vs_selected(seed=0):
    rnd = random_features(data.x_train.shape[1], M, seed=seed)
    acc = lambda idx: extra_trees_accuracy(data.x_train[:, idx], data.y_train, data.x_test[:, idx], data.y_test)
    print(f"selected: {acc(sel):.3f}   random {M} features (seed {seed}): {acc(rnd):.3f}")

explore(random_vs_selected, seed=slider(0, 20, 1, 0))"""),
    md("""\
## Real data

`benchmarks/real_table6.py` runs MNIST, Fashion-MNIST (10k test sets split 40/60), COIL-20
(20×20) and Isolet (only its test split exists here, split 80/20) from `../shared/data`, and any
CSV works as a dataset name: `table6_concrete("paper", datasets=("my_table.csv",))`.

Those runs used the *paper-text* attack preset (L2 norms, δ0 = 0), whose UAEs barely differ from their
originals (notebook 06, "Real data"); the table above uses the released configuration. What they
measured, compared over model seeds with Duplicate beside MINE-UAE (`benchmarks/table6_seeds.py`),
is read from `results/` in notebook **09** with each claim's verdict. The lesson of those runs:
one seed can show a gain of a few points that the next seeds do not, so compare over seeds, and
with Duplicate, before you conclude.

## Exercises

**1.** Return the M input indices that the select layer uses at test time, as
`model.selected_features()` does: each row of `model.select.logits` (M×d) takes its argmax, but
the M features must be **distinct** — when two rows pick the same feature, visit the rows from the
most to the least confident (largest softmax probability) and give each its most probable feature
not yet taken."""),
    code("""\
from uaelab.exercises.nb07 import check_downstream_accuracy, check_selected_features

def selected(model):
    raise NotImplementedError  # your code here: use model.select.logits (M×d), not selected_features()

check_selected_features(selected, model)"""),
    md("""\
**2.** Compute the downstream accuracy: Extra-Trees (`uaelab.metrics.extra_trees_accuracy`)
trained on the selected columns (your answer to 1) of the training set, scored on the same columns
of the test set."""),
    code("""\
my_accuracy = 0.0  # your code here

check_downstream_accuracy(my_accuracy, model, data)"""),
    md("Worked answers: `solutions/07_uae_concrete_autoencoder_solutions.ipynb`. Next: **08**, SimCLR."),
]

SOL07 = [
    md("# 07 · Solutions"),
    code("""\
import torch

from uaelab.augment import AugmentSettings, original_model
from uaelab.exercises.nb07 import check_downstream_accuracy, check_selected_features
from uaelab.experiments.table6_concrete import ConcreteTask, Table6Settings, default_M, load_data
from uaelab.metrics import extra_trees_accuracy

settings = Table6Settings.from_profile()
data, _ = load_data(settings.datasets[0], settings)
task = ConcreteTask(settings.M or default_M(data.x_train.shape[1]), settings.datasets[0], epochs=settings.epochs,
                    attack_set=settings.attack_set, preset=settings.preset)
model = original_model(task, data, seed=AugmentSettings.from_profile().model_seed)  # cached by notebook 07"""),
    code("""\
def selected(model):
    probs = model.select.logits.detach().softmax(dim=1).cpu()           # M×d
    chosen, taken = [0] * len(probs), set()
    for row in probs.max(dim=1).values.argsort(descending=True, stable=True).tolist():  # most confident first
        feature = next(f for f in probs[row].argsort(descending=True, stable=True).tolist() if f not in taken)
        chosen[row] = feature
        taken.add(feature)
    return torch.tensor(chosen)                                          # M distinct features

print("rows whose argmax collides:", len(model.select.logits.argmax(1)) - len(model.select.logits.argmax(1).unique()))
check_selected_features(selected, model)"""),
    code("""\
sel = selected(model)
my_accuracy = extra_trees_accuracy(data.x_train[:, sel], data.y_train, data.x_test[:, sel], data.y_test)
check_downstream_accuracy(my_accuracy, model, data)"""),
]

# -----------------------------------------------------------------------------------------
NB08 = [
    md("""\
# 08 · UAEs for contrastive learning: SimCLR (paper Table 5)

**SimCLR** (""" + ref("simclr") + """) learns representations without labels: two random augmentations (crop, flip, colour
jitter) of each image are pulled together and pushed away from the other images of the batch by
the **NT-Xent** loss. A linear classifier on the frozen representation ("linear probe") then
measures how good it is.

Section 4.6 generates MINE-UAEs against this contrastive loss: x' succeeds when its contrastive
loss against x's views is no greater than x's own, while I(x; x') is minimised. Retraining on
original + UAEs lowered the test contrastive loss by 7.8% and raised the linear-probe accuracy by
1.58 points on CIFAR-10 (ResNet-18, batch 512, 1000 epochs). SuppMat 6.17 adds that the retrained
model is more **robust**: we measure the linear probe's accuracy under an L∞ PGD attack on
encoder + probe, before and after augmentation.

The quick profile uses a small CNN encoder on 8×8 digits; the paper profile ResNet-18 on CIFAR-10
(a GPU job). As before, **Duplicate** (original + exact copy) controls for the doubled training."""),
    code("""\
import torch

from uaelab.augment import AugmentSettings, generate, original_model, parse_method
from uaelab.experiments.table5_simclr import (PAPER, SimclrTask, Table5Settings, fit_probe, load_data,
                                              table5_rows, table5_simclr)
from IPython.display import display

from uaelab.models.simclr import nt_xent, simclr_augment
from uaelab.plotting import image_grid, perturbation_grid
from uaelab.widgets import explore, slider
from uaelab.config import active_profile

if active_profile() == "quick":
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and shares a busy CPU far better

settings = Table5Settings.from_profile()
aug = AugmentSettings.from_profile(methods=("original", "mine-uae", "duplicate"))
print(settings)"""),
    md("""\
## The two views

Each training step draws two augmentations of every image; NT-Xent treats the pair as the
positive and the other 2N − 2 views of the batch as negatives:"""),
    code("""\
data = load_data(settings)
print(data)
augment = simclr_augment(data.sample_shape)
torch.manual_seed(0)
x = data.x_train[:8]
image_grid(torch.stack([x, augment(x), augment(x)]), row_titles=["image", "view 1", "view 2"], scale=0.8)"""),
    md("""\
## Pretrain, attack, retrain

The original SimCLR model (cached), then one MINE-UAE per training image against its
contrastive loss (resumable, with a progress bar, as in notebook 06):"""),
    code("""\
task = SimclrTask(settings)
model = original_model(task, data, seed=aug.model_seed)
print({k: round(v, 4) for k, v in task.evaluate(model, data).items()})"""),
    code("""\
out_dir, x_adv, success = generate(task, model, data.x_train, parse_method("mine-uae"), seed=aug.seeds[0],
                                   settings=aug, data_fp=data.fingerprint())
print(f"ASR = {success.float().mean():.3f}")
perturbation_grid(data.x_train[:8], {"MINE-UAE": (x_adv[:8], success[:8])}, scale=0.8,
                  title="MINE-UAEs against SimCLR")"""),
    md("""\
## The table

Contrastive test loss (↑ = lower, relative), linear-probe accuracy and PGD accuracy (changes are
differences of fractions), and the ASR:"""),
    code("""\
result = table5_simclr()
result.tables["paper_style"]"""),
    code("""\
result.tables["vs_paper"]"""),
    md("""\
This run against the paper's directions, and against Duplicate (every line is computed from the
table above; ↑ = the paper's direction):"""),
    code("""\
runs = result.tables["summary"].droplevel("model")
mine, dup = runs.loc["MINE-UAE"], runs.loc["Duplicate"]
for col, what in (("loss_improvement", "contrastive loss, relative improvement"),
                  ("accuracy_improvement", "linear-probe accuracy change"),
                  ("pgd_accuracy_improvement", "PGD accuracy change")):
    way = "the paper's direction" if mine[col] > 0 else "AGAINST the paper"
    vs = "beats" if mine[col] > dup[col] else "does not beat"
    print(f"{what}: MINE-UAE {mine[col]:+.4f} ({way}); Duplicate {dup[col]:+.4f}: MINE-UAE {vs} Duplicate")
print("training runs per row:", int(mine["runs"]))"""),
    md("""\
**What to look at.**

* Does MINE-UAE lower the contrastive test loss and raise the probe accuracy, and by more than
  **Duplicate**? The lines above say it for this run, including where the quick result goes
  *against* the paper. On a few hundred 8×8 digits the probe accuracy moves by a point or two
  from one training run to the next, and each row here is one run, so small differences are
  noise (notebook 09 gives verdicts over seeds); the paper's +1.58 points is on the full
  CIFAR-10 test set.
* `pgd_accuracy`: the probe's accuracy under PGD (ε = `settings.pgd_eps`). The paper claims it
  rises after augmentation.
* The contrastive loss depends on the batch size (more negatives, higher loss), so it is only
  comparable at equal batch size; we evaluate at the training batch size.

### Try it
Browse the UAEs, eight training images at a time, with their perturbations on a fixed scale:"""),
    code("""\
def show_uaes(first=0):
    sl = slice(first, first + 8)
    fig = perturbation_grid(data.x_train[sl], {"MINE-UAE": (x_adv[sl], success[sl])}, vmax=0.5, scale=0.8,
                            title=f"training images {first}-{first + 7}: MINE-UAEs against SimCLR")
    print(f"success {float(success[sl].float().mean()):.2f}, mean L∞ {float(fig.linf['MINE-UAE'].mean()):.4f}")
    display(fig)


explore(show_uaes, first=slider(0, 56, 8, 0))"""),
    md("""\
## Exercises

**1.** Implement the NT-Xent loss for N positive pairs `(z1[i], z2[i])`: cosine similarities
divided by the temperature, each of the 2N embeddings an anchor whose positive is its pair and
whose negatives are the other 2N − 2 embeddings; average the cross-entropy over the anchors."""),
    code("""\
from uaelab.exercises.nb08 import check_nt_xent, check_project

def my_nt_xent(z1, z2, temperature):
    raise NotImplementedError  # your code here

check_nt_xent(my_nt_xent)"""),
    md("""\
**2.** PGD needs a projection after each step: bring `x_adv` back into the L∞ ball of radius ε
around `x`, and into the valid image range."""),
    code("""\
def project(x_adv, x, eps):
    raise NotImplementedError  # your code here

check_project(project)"""),
    md("Worked answers: `solutions/08_uae_simclr_solutions.ipynb`."),
]

SOL08 = [
    md("# 08 · Solutions"),
    code("""\
import torch
import torch.nn.functional as F

from uaelab.exercises.nb08 import check_nt_xent, check_project

def my_nt_xent(z1, z2, temperature):
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)               # cosine similarity = dot of unit vectors
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))                          # an anchor is not its own negative
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, positive)                      # mean over the 2N anchors

check_nt_xent(my_nt_xent)"""),
    code("""\
def project(x_adv, x, eps):
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)

check_project(project)"""),
]


# -----------------------------------------------------------------------------------------
NB09 = [
    md("""\
# 09 · What reproduces: the paper's claims, one by one

The closing notebook. Every claim of the paper (and the controls this series added) is listed
with what was **measured**, the statistical **test**, and the **verdict**, all read at run time
from the result files committed under `results/` by `uaelab.claims.claims_table()`. Nothing
measured is typed into this notebook: rerun an experiment, commit its result file, and this
notebook says the new verdict.

A verdict is one of four (`uaelab.verdicts.VERDICTS`; see the [glossary](../docs/glossary.md)):

* **holds**: the measured difference has the paper's sign and is larger than its run-to-run
  noise (Welch's t over seeds, or a binomial/Fisher test where a file has no per-run values);
* **does not hold**: the difference is significant and has the *other* sign;
* **within noise**: the runs cannot tell the difference from zero (with few seeds, say so: that
  is not evidence of no effect, only of no detectable one at this budget);
* **not tested**: the result file is missing (the `measured` column names it)."""),
    code("""\
import pandas as pd
from IPython.display import Markdown, display

from uaelab.claims import claims_table
from uaelab.verdicts import ALPHA, VERDICTS

table = claims_table()
assert set(table["verdict"]) <= set(VERDICTS), table["verdict"].unique()
print(f"{len(table)} claims; significance level {ALPHA}")
table["verdict"].value_counts().reindex(VERDICTS, fill_value=0).rename("claims").to_frame()"""),
    md("""\
## The table

Each row: the claim, where the paper makes it (`source`), the paper's number, what was measured,
and the verdict. The `budget` column says how much compute the measurement had (seeds, images,
iterations), next to the paper's."""),
    code("""\
with pd.option_context("display.max_colwidth", 120):
    display(table[["id", "claim", "source", "measured", "verdict"]].set_index("id"))"""),
    md("""\
## Claim by claim

Each tested claim with its evidence, and what a learner should take from a verdict of that kind:"""),
    code("""\
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
    display(Markdown(f"**{r['id']}** · {r['claim']}  \\n*{r['source']}* · paper: {r.get('paper', '–')}  \\n"
                     f"measured: {r['measured']} → **{r['verdict']}**  \\n"
                     f"test: {r['test']} · budget: {r['budget']} · evidence: `{r['evidence']}`  \\n"
                     f"{LESSON[r['verdict']]}"))"""),
    md("""\
The claims without a committed result yet, and the file each one waits for:"""),
    code("""\
waiting = table[table["verdict"] == "not tested"]
print(LESSON["not tested"])
waiting.groupby("evidence")["id"].apply(lambda ids: ", ".join(ids)).rename("claims").to_frame()"""),
    md("""\
## What to conclude

The counts and lists below are computed from the table, so they follow the committed results:"""),
    code("""\
by = {v: table.loc[table["verdict"] == v, "id"].tolist() for v in VERDICTS}
for v in VERDICTS:
    print(f"{v:14s} {len(by[v]):2d}  {', '.join(by[v])}")
n_tested = len(table) - len(by["not tested"])
print(f"\\nof {n_tested} tested claims, {len(by['holds'])} hold, {len(by['does not hold'])} do not, "
      f"{len(by['within noise'])} cannot be told from noise at the budgets run")"""),
    md("""\
Every improvement over the original model, beside its control. An augmented model trains twice
the gradient steps, so a gain over the original counts as the UAEs' only if it also beats
**Duplicate** (notebook 06):"""),
    code("""\
verdict = table.set_index("id")["verdict"]
gains = [(cid, cid.replace("-vs-original", "-vs-duplicate")) for cid in verdict.index if cid.endswith("-vs-original")]
pd.DataFrame([{"improvement": c, "vs original": verdict[c], "vs Duplicate": verdict.get(d, "not listed")}
              for c, d in gains]).set_index("improvement")"""),
    md("""\
How to read this as a learner, whatever the counts say on your checkout:

* **A claim about a method needs its control beside it.** Notebooks 02, 03, 05 and 06 showed
  that the attacks return nearly the same examples with the MINE networks untrained or without
  an MI term; an improvement credited to MINE has to beat those rows, and an augmentation gain has
  to beat **Duplicate** (the same gradient steps with nothing new).
* **One run is an anecdote.** The verdicts compare rows over seeds; a gain that one seed shows and
  the next does not is "within noise".
* **Budgets matter.** Most measurements here ran at reduced budgets (the `budget` column); a
  "within noise" at three seeds is not a "does not hold" at thirty.
* **An MI estimate is a score, not a measurement** (notebook 01): comparisons of MINE estimates
  also compare how long each estimator trained (notebook 04)."""),
]

NOTEBOOKS = {
    "06_uae_reconstruction.ipynb": NB06,
    "07_uae_concrete_autoencoder.ipynb": NB07,
    "08_uae_simclr.ipynb": NB08,
    "09_what_reproduces.ipynb": NB09,
    "solutions/06_uae_reconstruction_solutions.ipynb": SOL06,
    "solutions/07_uae_concrete_autoencoder_solutions.ipynb": SOL07,
    "solutions/08_uae_simclr_solutions.ipynb": SOL08,
}


def build(path: str, cells) -> nbformat.NotebookNode:
    stem = Path(path).stem.split("_")[0] + ("s" if path.startswith("solutions") else "")
    for i, cell in enumerate(cells):
        cell.id = f"nb{stem}-{i:02d}"  # stable ids keep rebuilds diff-free
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def execute(nb: nbformat.NotebookNode, where: Path) -> None:
    """Run ``nb`` headless in the quick profile and raise on the first error (outputs dropped)."""
    import copy

    from nbclient import NotebookClient

    env = {"UAELAB_PROFILE": "quick", "UAELAB_HEADLESS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(copy.deepcopy(nb), timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(where)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


# Teaching scaffolding: minutes, objectives, prerequisites, exercise difficulty, key takeaways.
META = {
    "06": dict(minutes=25, objectives=[
        "define a UAE for an autoencoder and generate one per training image, resumably",
        "build the augmented set with the paper's replication rule and retrain on it",
        "judge an improvement against its controls: Duplicate (twice the steps, nothing new) and no-MI",
    ], prerequisites=["notebooks 01–02 (per-sample MINE, the MinMax attack)", "what an autoencoder is"],
        tags={1: "★☆☆ warm-up", 2: "★★☆ core", 3: "★☆☆ warm-up"},
        takeaways=[
            "A UAE is a perturbation the model handles no worse than the original, with minimal MI to it.",
            "At equal epochs every augmented model trains twice the steps: only the gap to Duplicate is due to the new samples.",
            "MINE-UAE and no-MI examples are nearly identical here: the random start and the criterion make the UAE, not MI.",
        ]),
    "07": dict(minutes=10, objectives=[
        "explain the concrete select layer and the post-hoc evaluation (reconstruction error, Extra-Trees accuracy)",
        "compare MINE-UAE augmentation with Duplicate and no-MI on Table 6's datasets",
    ], prerequisites=["notebook 06"],
        tags={1: "★★★ stretch", 2: "★☆☆ warm-up"},
        takeaways=[
            "The concrete autoencoder keeps M distinct input features; accuracy on them is noisy at small test sets.",
            "Compare over seeds and with Duplicate before crediting UAEs with a gain (notebook 09).",
        ]),
    "09": dict(minutes=15, objectives=[
        "read each claim of the paper with its measured verdict and the test behind it",
        "tell 'does not hold' from 'within noise', and both from 'not tested'",
        "say what a learner should and should not conclude from a reproduction",
    ], prerequisites=["notebooks 02–08 (at least 02 and 06)", "a two-sample t-test, roughly"],
        tags={},
        takeaways=[
            "Verdicts are computed from committed result files at run time; no number here is typed by hand.",
            "Controls (no-MI, untrained MINE, Duplicate) and seeds decide what a claim's evidence is worth.",
            "'Within noise' at a small budget is an open question, not a refutation.",
        ]),
    "08": dict(minutes=15, objectives=[
        "write the NT-Xent loss and the PGD projection",
        "generate UAEs against a contrastive loss and retrain SimCLR on them",
        "say for a run whether each metric moved in the paper's direction and beat Duplicate",
    ], prerequisites=["notebook 06", "softmax cross-entropy"],
        tags={1: "★★☆ core", 2: "★☆☆ warm-up"},
        takeaways=[
            "NT-Xent: each view's positive is its pair, its negatives the other 2N − 2 views.",
            "The quick run's directions are printed, not assumed; one run per row cannot separate a point or two from noise.",
        ]),
}


def scaffold(key: str, cells: list) -> list:
    """Objectives under the title, difficulty tags on the exercises, the key-takeaways box."""
    import re

    meta = META[key]
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        if i == 0:
            title, _, rest = cell.source.partition("\n")
            cell.source = f"{title}\n\n{intro(meta['minutes'], meta['objectives'], meta['prerequisites'])}\n{rest}"
        cell.source = re.sub(r"^\*\*(\d)\.\*\*", lambda m: f"**Exercise {m[1]}** ({meta['tags'][int(m[1])]}).",
                             cell.source, flags=re.M)
    return cells + [md(takeaways(meta["takeaways"]))]


def main(argv: list[str]) -> None:
    for rel, cells in NOTEBOOKS.items():
        out = HERE / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        key = Path(rel).name[:2]
        cells = [cells[0], code(STRICT_SOURCE), *cells[1:]] if rel.startswith("solutions") else scaffold(key, cells)
        nb = build(rel, cells)
        if "--execute" in argv:
            execute(nb, out.parent)
        nbformat.write(nb, out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
