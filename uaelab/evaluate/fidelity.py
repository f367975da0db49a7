"""FID and KID between two image sets, computed by torch-fidelity, with an offline extractor.

torch-fidelity's default feature extractor is ``inception-v3-compat`` (the network behind the
usual "Inception" FID/KID). Its weights come from a download or from a local file. Where neither
is possible (offline machines, CI), :func:`register_classifier_extractor` registers, through
torch-fidelity's own :func:`torch_fidelity.register_feature_extractor`, an extractor built on a
uaelab classifier trained on the same dataset: its penultimate-layer activations play the role
of Inception's 2048-d pool features. Such numbers are *not* Inception FID/KID, so every result
names the extractor it used.

Example::

    from uaelab.evaluate.fidelity import FidelitySettings, fid_kid
    res = fid_kid(x_adv, x_train, FidelitySettings.from_profile("quick"), classifier=model)
    res["fid"], res["kid_mean"], res["extractor"]

Images are float tensors N×C×H×W in [0, 1] (C = 1 or 3); they are handed to torch-fidelity as
uint8 RGB, as it expects.
"""
from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from uaelab.config import Settings, register
from uaelab.utils import check_unit_interval, fingerprint

INCEPTION = "inception-v3-compat"
CLASSIFIER_PREFIX = "uaelab-classifier"
ENV_OFFLINE = "UAELAB_OFFLINE"  # set to 1 to never use (or download) the Inception weights
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's file name


@register("fidelity")
@dataclass(frozen=True)
class FidelitySettings(Settings):
    """How FID/KID are computed (defaults: the usual Inception FID/KID, as in the paper)."""

    # "auto": Inception if its weights are at hand (or may be downloaded), else the classifier;
    # "inception-v3-compat": always Inception; "classifier": always the offline classifier.
    extractor: str = "auto"
    # local file with torch-fidelity's Inception weights (None: torch hub cache or download)
    weights_path: Optional[str] = None
    # whether "auto"/"inception-v3-compat" may download the Inception weights (~100 MB)
    allow_download: bool = True
    kid_subsets: int = 100  # number of random subsets KID averages over (torch-fidelity default)
    kid_subset_size: int = 1000  # KID subset size; reduced to the sample count when smaller
    batch_size: int = 64  # feature-extraction batch size
    seed: int = 2020  # RNG seed of KID's subset draws (torch-fidelity default)

    PROFILES = {"quick": {"allow_download": False, "kid_subsets": 20}}

    def validate(self) -> None:
        if self.extractor not in ("auto", INCEPTION, "classifier"):
            raise ValueError(
                f"fidelity.extractor must be 'auto', {INCEPTION!r} or 'classifier', got {self.extractor!r}"
            )
        if self.weights_path is not None and not Path(self.weights_path).is_file():
            raise ValueError(
                f"fidelity.weights_path {self.weights_path!r} is not a file; give the path of torch-fidelity's "
                f"Inception weights ({INCEPTION_FILE}) or leave it None"
            )
        if self.kid_subsets < 1 or self.kid_subset_size < 2 or self.batch_size < 1:
            raise ValueError("fidelity.kid_subsets >= 1, kid_subset_size >= 2 and batch_size >= 1 are required")


# -- the offline extractor ------------------------------------------------------------------
class ClassifierFeatures(torch.nn.Module):
    """Penultimate activations of a classifier: the input of its last ``nn.Linear`` layer.

    Takes uint8 N×3×H×W (torch-fidelity's format), turns it back into float [0, 1], averages the
    channels for a grey-scale classifier, and resizes to the classifier's input size if needed.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        # a private copy: torch-fidelity switches its extractor to eval and freezes its weights
        self.model = copy.deepcopy(model).cpu().eval()
        linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("the classifier has no nn.Linear layer, so it has no penultimate features to use")
        self.last = linears[-1]
        self.in_shape = tuple(getattr(model, "in_shape", (1, 28, 28)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float() / 255.0
        if self.in_shape[0] == 1 and x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if tuple(x.shape[-2:]) != tuple(self.in_shape[1:]):
            x = torch.nn.functional.interpolate(x, size=self.in_shape[1:], mode="bilinear", align_corners=False)
        seen: list[torch.Tensor] = []
        hook = self.last.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
        try:
            logits = self.model(x)
        finally:
            hook.remove()
        return seen[-1].flatten(1).double(), logits.double()


def register_classifier_extractor(model: nn.Module) -> str:
    """Register ``model``'s penultimate features with torch-fidelity; return the extractor name.

    The name carries a fingerprint of the weights (``uaelab-classifier-<class>-<hash>``), so two
    different classifiers never share a name and registering the same one twice is a no-op.
    """
    from torch_fidelity import FeatureExtractorBase, register_feature_extractor
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    state = [t for t in model.state_dict().values()]
    name = f"{CLASSIFIER_PREFIX}-{type(model).__name__}-{fingerprint(*state)[:10]}"
    if name in FEATURE_EXTRACTORS_REGISTRY:
        return name
    wrapped = ClassifierFeatures(model)

    class _Extractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net = wrapped

        @staticmethod
        def get_provided_features_list():
            return ("penultimate", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"fid": "penultimate", "kid": "penultimate", "prc": "penultimate", "isc": "logits"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, *wrapped.in_shape[1:], dtype=torch.uint8)

        def forward(self, x):
            feats = dict(zip(("penultimate", "logits"), self.net(x)))
            return tuple(feats[f] for f in self.features_list)

    _Extractor.__name__ = f"ClassifierExtractor_{type(model).__name__}"
    register_feature_extractor(name, _Extractor)
    return name


# -- choosing the extractor -----------------------------------------------------------------
def inception_weights_at_hand(settings: FidelitySettings) -> str | None:
    """The local Inception weights file to use, or None (named file, then torch hub's cache)."""
    if settings.weights_path:
        return settings.weights_path
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return str(hub) if hub.is_file() else None


def resolve_extractor(settings: FidelitySettings, classifier: nn.Module | None = None) -> tuple[str, dict, str]:
    """Pick the feature extractor: ``(torch-fidelity name, extra kwargs, human description)``.

    Offline (``$UAELAB_OFFLINE`` set, or downloads disallowed and no local weights) "auto" uses
    the classifier; asking for Inception explicitly without weights or downloads raises.
    """
    offline = bool(os.environ.get(ENV_OFFLINE))
    weights = None if offline else inception_weights_at_hand(settings)
    can_inception = weights is not None or (settings.allow_download and not offline)
    choice = settings.extractor
    if choice == "auto":
        choice = INCEPTION if can_inception else "classifier"
    if choice == INCEPTION:
        if not can_inception:
            raise ValueError(
                f"{INCEPTION} needs its weights: set fidelity.weights_path to a local {INCEPTION_FILE}, allow "
                f"downloads (fidelity.allow_download=true, unset {ENV_OFFLINE}), or use fidelity.extractor=classifier"
            )
        extra = {"feature_extractor_weights_path": weights} if weights else {}
        return INCEPTION, extra, f"{INCEPTION} (Inception FID/KID{'' if weights else ', weights downloaded'})"
    if classifier is None:
        raise ValueError(
            "the offline FID/KID extractor needs a trained classifier of the same dataset: pass classifier=model "
            "(e.g. uaelab.models.zoo.get_model(...))"
        )
    name = register_classifier_extractor(classifier)
    desc = (f"{name}: penultimate features of a {type(classifier).__name__} trained on the same data "
            "(offline stand-in; NOT Inception FID/KID, not comparable with the paper's numbers)")
    return name, {}, desc


# -- the metrics ----------------------------------------------------------------------------
class _Uint8Images(torch.utils.data.Dataset):
    """N×C×H×W float [0, 1] -> uint8 3×H×W items, as torch-fidelity's inputs expect."""

    def __init__(self, x: torch.Tensor):
        x = (x.detach().cpu().float() * 255).round().to(torch.uint8)
        self.x = x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def kid_subset_size_for(n1: int, n2: int, wanted: int = 1000) -> tuple[int, str]:
    """KID's subset size for sample counts ``n1``, ``n2``: ``min(wanted, n1, n2)``, with a message.

    The message is empty when no reduction was needed.
    """
    size = min(wanted, n1, n2)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {n1} and {n2}")
    msg = ""
    if size < wanted:
        msg = (f"KID subset size reduced from {wanted} to {size} because only {min(n1, n2)} samples are "
               "available; KID from smaller subsets is noisier, compare only numbers made with the same size")
    return size, msg


def fid_kid(
    x1: torch.Tensor,
    x2: torch.Tensor,
    settings: FidelitySettings | None = None,
    classifier: nn.Module | None = None,
) -> dict[str, Any]:
    """FID and KID between image sets ``x1`` and ``x2`` (float N×C×H×W in [0, 1], same C, H, W).

    ``classifier`` (a uaelab classifier trained on the same data) is needed when the offline
    extractor is chosen. Returns ``{"fid", "kid_mean", "kid_std", "extractor", "extractor_name",
    "kid_subset_size", "n1", "n2", "message"}``; ``message`` explains a reduced KID subset size.
    """
    import torch_fidelity

    settings = settings or FidelitySettings.from_profile()
    for name, x in (("x1", x1), ("x2", x2)):
        check_unit_interval(x, name, ndim=4)
    if x1.shape[1:] != x2.shape[1:]:
        raise ValueError(f"x1 and x2 must share C×H×W, got {tuple(x1.shape[1:])} and {tuple(x2.shape[1:])}")
    if x1.shape[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {x1.shape[1]}")
    name, extra, desc = resolve_extractor(settings, classifier)
    size, msg = kid_subset_size_for(len(x1), len(x2), settings.kid_subset_size)
    if msg:
        warnings.warn(msg, stacklevel=2)
    metrics = torch_fidelity.calculate_metrics(
        input1=_Uint8Images(x1), input2=_Uint8Images(x2), cuda=torch.cuda.is_available(),
        fid=True, kid=True, feature_extractor=name, kid_subsets=settings.kid_subsets,
        kid_subset_size=size, batch_size=settings.batch_size, rng_seed=settings.seed,
        cache=False, save_cpu_ram=True, verbose=False, **extra,
    )
    return {
        "fid": float(metrics["frechet_inception_distance"]),
        "kid_mean": float(metrics["kernel_inception_distance_mean"]),
        "kid_std": float(metrics["kernel_inception_distance_std"]),
        "extractor": desc,
        "extractor_name": name,
        "kid_subset_size": size,
        "n1": len(x1),
        "n2": len(x2),
        "message": msg,
    }


# -- a paired test between two attacks of the same images ------------------------------------
def classifier_features(x: torch.Tensor, classifier: nn.Module, batch_size: int = 256) -> torch.Tensor:
    """The offline extractor's features (float64 N×p) of images ``x`` (float N×C×H×W in [0, 1]),
    computed exactly as torch-fidelity sees them (uint8 RGB, then back)."""
    check_unit_interval(x, "x", ndim=4)
    net, u8 = ClassifierFeatures(classifier), _Uint8Images(x).x
    with torch.no_grad():
        return torch.cat([net(u8[i:i + batch_size])[0] for i in range(0, len(u8), batch_size)])


def _poly_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """KID's kernel (torch-fidelity's defaults): (a·b / p + 1)^3."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kid_paired_test(fa: torch.Tensor, fb: torch.Tensor, fr: torch.Tensor, permutations: int = 2000,
                    seed: int = 0) -> dict[str, float]:
    """Is set A closer to the reference R than set B, when A[i] and B[i] come from the same image?

    ``fa``, ``fb`` (n×p, paired rows) and ``fr`` (m×p) are extractor features. KID is the unbiased
    MMD² with KID's cubic kernel on the whole sets (no subsets), so KID(A) − KID(B) needs no R–R
    term. The null "A[i] and B[i] are exchangeable" is tested by swapping random pairs (a
    sign-flip permutation test; ``permutations`` draws, seeded): two-sided
    p = (1 + #{|D*| ≥ |D|}) / (1 + permutations).
    Returns ``{"kid_a", "kid_b", "difference", "p"}``.
    """
    if fa.shape != fb.shape or fa.shape[1] != fr.shape[1] or len(fa) < 2 or len(fr) < 2:
        raise ValueError(f"need paired features fa, fb (n×p, n >= 2) and fr (m×p, m >= 2); got "
                         f"{tuple(fa.shape)}, {tuple(fb.shape)}, {tuple(fr.shape)}")
    fa, fb, fr = fa.double(), fb.double(), fr.double()
    n = len(fa)
    kaa, kbb, kab = _poly_kernel(fa, fa), _poly_kernel(fb, fb), _poly_kernel(fa, fb)
    kar, kbr = _poly_kernel(fa, fr).mean(1), _poly_kernel(fb, fr).mean(1)
    krr = _poly_kernel(fr, fr)
    rr = (krr.sum() - krr.diagonal().sum()) / (len(fr) * (len(fr) - 1))
    off = 1.0 - torch.eye(n, dtype=fa.dtype)

    def within(s: torch.Tensor) -> torch.Tensor:  # s: k×n swap masks -> U-statistic of the swapped A
        t = 1.0 - s
        k = (t[:, :, None] * t[:, None, :] * kaa + t[:, :, None] * s[:, None, :] * kab
             + s[:, :, None] * t[:, None, :] * kab.T + s[:, :, None] * s[:, None, :] * kbb)
        return (k * off).sum((1, 2)) / (n * (n - 1))

    def diff(s: torch.Tensor) -> torch.Tensor:  # KID(A_s) - KID(B_s), B_s the complement swap
        return within(s) - within(1.0 - s) - 2.0 * ((1.0 - 2.0 * s) @ (kar - kbr)) / n

    zero = torch.zeros(1, n, dtype=fa.dtype)
    d = float(diff(zero)[0])
    g = torch.Generator().manual_seed(seed)
    null = torch.cat([diff(torch.randint(0, 2, (min(200, permutations - i), n), generator=g).to(fa.dtype))
                      for i in range(0, permutations, 200)])
    p = (1 + int((null.abs() >= abs(d) - 1e-12).sum())) / (1 + permutations)
    kid_a = float(within(zero)[0] - 2.0 * kar.mean() + rr)
    return {"kid_a": kid_a, "kid_b": kid_a - d, "difference": d, "p": p}
