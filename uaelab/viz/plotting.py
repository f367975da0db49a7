"""Shared figure helpers: image grids, adversarial comparisons, signed differences.

Everything here builds a :class:`matplotlib.figure.Figure` directly (not through ``pyplot``),
so library code never opens windows or leaks global figure state; the caller shows or saves
the returned figure. The figures are :class:`Figure` (a matplotlib Figure that renders itself
as PNG in Jupyter), so a figure as a cell's last value, ``display(fig)`` or :func:`show` all
show it. Other modules make their figures with :func:`new_figure` for the same behaviour.

Images are float tensors in [0, 1], laid out N×C×H×W (C = 1 grey, C = 3 RGB); N×H×W is read
as grey. A 2-D layout is a tensor R×Cols×C×H×W or a list of rows, each a tensor Cols×C×H×W
or a list of C×H×W images (rows may differ in length; missing cells stay blank).

Example::

    from uaelab.viz.plotting import image_grid, comparison_grid
    fig = image_grid(x[:32], nrow=8)
    fig = comparison_grid(x[:8], x_adv[:8], success=ok[:8])  # red X on failed attacks
"""
from __future__ import annotations

import io
import math
from typing import Any, Sequence

import matplotlib.figure
import numpy as np
import torch
from IPython.display import Image, display

CROSS_GID = "uaelab-cross"  # gid of the two red lines drawn over a crossed-out cell


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that shows itself as a PNG when it is a notebook cell's value.

    A plain ``matplotlib.figure.Figure`` made without pyplot only prints ``<Figure ...>`` in
    Jupyter; this subclass adds ``_repr_png_`` so library code can stay pyplot-free.
    """

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def new_figure(**kwargs: Any) -> Figure:
    """A fresh :class:`Figure` (kwargs as for ``matplotlib.figure.Figure``, e.g. ``figsize``)."""
    return Figure(**kwargs)


def figure_png(fig: matplotlib.figure.Figure, dpi: int = 100) -> bytes:
    """PNG bytes of any matplotlib figure (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


# -- input handling -------------------------------------------------------------------------
def _as_image(img: Any, where: str) -> np.ndarray:
    """One image C×H×W (or H×W) in [0, 1] -> H×W or H×W×3 float array for imshow."""
    t = torch.as_tensor(np.asarray(img) if not isinstance(img, torch.Tensor) else img)
    t = t.detach().cpu()
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(
            f"{where}: an image must be C×H×W with C = 1 (grey) or 3 (RGB), got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise ValueError(f"{where}: images must be float in [0, 1], got dtype {t.dtype}; use x.float() / 255")
    if not torch.isfinite(t).all():
        raise ValueError(f"{where}: image contains NaN or inf")
    if t.numel() and (t.min() < 0 or t.max() > 1):
        raise ValueError(
            f"{where}: image values must lie in [0, 1], got [{t.min().item():.3g}, {t.max().item():.3g}]; "
            "use diff_image() for signed differences"
        )
    arr = t.float().numpy()
    return arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))


def _layout(images: Any, nrow: int | None) -> list[list[np.ndarray]]:
    """Normalise every accepted input to a list of rows of display arrays."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("image_grid needs at least one image")
        first = images[0]
        is_rows = isinstance(first, (list, tuple)) or (
            isinstance(first, (torch.Tensor, np.ndarray)) and np.ndim(first) == 4
        )
        if is_rows:
            return [[_as_image(img, f"row {r} image {c}") for c, img in enumerate(row)]
                    for r, row in enumerate(images)]
        images = torch.stack([torch.as_tensor(np.asarray(i)) if not isinstance(i, torch.Tensor) else i
                              for i in images])
    t = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if t.dim() == 5:  # R×Cols×C×H×W
        return [[_as_image(img, f"row {r} image {c}") for c, img in enumerate(row)] for r, row in enumerate(t)]
    if t.dim() == 3:  # N×H×W grey
        t = t.unsqueeze(1)
    if t.dim() != 4:
        raise ValueError(
            f"images must be N×C×H×W, N×H×W, R×Cols×C×H×W or a list of rows; got shape {tuple(t.shape)}"
        )
    n = t.shape[0]
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    cols = nrow if nrow is not None else min(n, max(1, math.ceil(math.sqrt(n))))
    if cols < 1:
        raise ValueError(f"nrow (images per row) must be >= 1, got {nrow}")
    flat = [_as_image(img, f"image {i}") for i, img in enumerate(t)]
    return [flat[i:i + cols] for i in range(0, n, cols)]


def _cross_mask(crosses: Any, rows: list[list[np.ndarray]]) -> list[list[bool]]:
    """Bool per cell: a flat mask (one per image, row-major) or an R×Cols mask."""
    shape = [len(r) for r in rows]
    if crosses is None:
        return [[False] * n for n in shape]
    if isinstance(crosses, (list, tuple)) and crosses and isinstance(crosses[0], (list, tuple)):
        nested = [[bool(v) for v in row] for row in crosses]
    else:
        m = torch.as_tensor(np.asarray(crosses.cpu() if isinstance(crosses, torch.Tensor) else crosses))
        m = m.bool()
        if m.dim() == 1:
            if m.numel() != sum(shape):
                raise ValueError(f"crosses has {m.numel()} entries but the grid has {sum(shape)} images")
            it = iter(m.tolist())
            nested = [[next(it) for _ in range(n)] for n in shape]
        elif m.dim() == 2:
            nested = m.tolist()
        else:
            raise ValueError(f"crosses must be 1-D (one per image) or 2-D (rows×cols), got shape {tuple(m.shape)}")
    if [len(r) for r in nested] != shape:
        raise ValueError(f"crosses layout {[len(r) for r in nested]} does not match the grid rows {shape}")
    return nested


def _labels(values: Sequence[str] | None, n: int, what: str) -> list[str] | None:
    if values is None:
        return None
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} entries but the grid has {n}")
    return [str(v) for v in values]


# -- figures --------------------------------------------------------------------------------
def draw_cross(ax: Any, color: str = "red", linewidth: float = 2.0) -> None:
    """Draw a red X over a whole axes cell (tagged with gid ``CROSS_GID``)."""
    for ys in ((0, 1), (1, 0)):
        ax.plot((0, 1), ys, transform=ax.transAxes, color=color, linewidth=linewidth,
                gid=CROSS_GID, clip_on=False)


def image_grid(
    images: Any,
    nrow: int | None = None,
    row_titles: Sequence[str] | None = None,
    col_titles: Sequence[str] | None = None,
    crosses: Any = None,
    cmap: str = "gray",
    scale: float = 1.0,
    title: str | None = None,
) -> Figure:
    """A figure with one axes per image.

    Args:
        images: N×C×H×W tensor/array in [0, 1] (laid out ``nrow`` per row), an R×Cols×C×H×W
            tensor, or a list of rows (each Cols×C×H×W or a list of C×H×W images).
        nrow: images per row for a flat N×C×H×W input (default about sqrt(N)).
        row_titles: one label per row, written left of the row.
        col_titles: one label per column, written above the first row.
        crosses: bool mask, flat (one per image, row-major) or rows×cols; a red X is drawn over
            every True cell (the paper's Figure 3 marks unsuccessful adversarial examples so).
        cmap: colour map for grey images (RGB images are shown as they are).
        scale: inches per cell.
        title: optional figure title.

    Returns:
        ``matplotlib.figure.Figure``; ``fig.axes`` are the cells in row-major order (blank
        cells of ragged rows are hidden but kept, so index ``r * n_cols + c`` is cell (r, c)).
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0 inches per cell, got {scale}")
    rows = _layout(images, nrow)
    mask = _cross_mask(crosses, rows)
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    row_titles = _labels(row_titles, n_rows, "row_titles")
    col_titles = _labels(col_titles, n_cols, "col_titles")
    # fixed margins in inches (tight_layout mis-places many small label-less axes and is slow);
    # saving with bbox_inches="tight" trims whatever is left over
    gap = 0.06 * scale
    left = 0.05 + (0.1 + 0.08 * max(map(len, row_titles)) if row_titles else 0.0)
    top = 0.05 + (0.3 if col_titles else 0.0) + (0.4 if title else 0.0)
    width = left + n_cols * scale + (n_cols - 1) * gap + 0.05
    height = top + n_rows * scale + (n_rows - 1) * gap + 0.05
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(n_rows, n_cols, squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - 0.05 / width, top=1 - top / height, bottom=0.05 / height,
        wspace=gap / scale, hspace=gap / scale))
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c >= len(rows[r]):
                ax.set_visible(False)
                continue
            img = rows[r][c]
            ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
            if mask[r][c]:
                draw_cross(ax)
            if row_titles and c == 0:
                ax.set_ylabel(row_titles[r], rotation=0, ha="right", va="center")
            if col_titles and r == 0:
                ax.set_title(col_titles[c], fontsize="small")
    if title:
        fig.suptitle(title, y=1 - 0.05 / height, va="top")
    return fig


def diff_image(x: torch.Tensor, x_adv: torch.Tensor, per_image: bool = True) -> torch.Tensor:
    """Signed difference ``x_adv - x`` mapped into [0, 1] for display (0.5 = unchanged).

    Each image (or the whole batch when ``per_image=False``) is divided by its largest absolute
    change, so small perturbations stay visible: 0 is the largest decrease, 1 the largest
    increase. An unchanged image is uniformly 0.5 (no division by zero).

    Args/Returns: tensors of the same shape N×C×H×W (or C×H×W), float in [0, 1].
    """
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {tuple(x.shape)} and {tuple(x_adv.shape)}")
    d = (x_adv.detach().float() - x.detach().float()).cpu()
    if per_image and d.dim() == 4:
        peak = d.abs().flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    else:
        peak = d.abs().max()
    return (0.5 + 0.5 * d / peak.clamp_min(1e-12)).clamp(0.0, 1.0)


def comparison_grid(
    x: torch.Tensor,
    x_adv: torch.Tensor,
    success: Any = None,
    col_titles: Sequence[str] | None = None,
    scale: float = 1.0,
    title: str | None = None,
) -> Figure:
    """Rows "original", "adversarial", "difference" for N samples (N×C×H×W in [0, 1]).

    ``success`` (bool, length N) marks which attacks worked; a red X is drawn over the
    adversarial image of every failed one, as in the paper's Figure 3.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be N×C×H×W, got shape {tuple(x.shape)}")
    crosses = None
    if success is not None:
        ok = torch.as_tensor(np.asarray(success.cpu() if isinstance(success, torch.Tensor) else success)).bool()
        if ok.shape != (x.shape[0],):
            raise ValueError(f"success must have one entry per sample ({x.shape[0]}), got shape {tuple(ok.shape)}")
        crosses = torch.stack([torch.zeros_like(ok), ~ok, torch.zeros_like(ok)])
    rows = torch.stack([x.detach().cpu().float(), x_adv.detach().cpu().float(), diff_image(x, x_adv)])
    return image_grid(rows, row_titles=["original", "adversarial", "difference"], col_titles=col_titles,
                      crosses=crosses, scale=scale, title=title)



def perturbation_grid(
    x: torch.Tensor,
    examples: dict,
    n: int = 8,
    vmax: float | None = None,
    scale: float = 0.9,
    title: str | None = None,
    col_titles: Sequence[str] | None = None,
) -> Figure:
    """Originals, and for each method its examples and their perturbations δ = x' − x on one
    **shared absolute colour scale**, with a colour bar and each δ's L∞ norm above it.

    Unlike :func:`diff_image` (each image rescaled to its own largest change), equal colours mean
    equal pixel changes across images and methods, so a perturbation of a thousandth of a grey
    level looks like one. ``examples`` maps a method's name to ``x_adv`` or ``(x_adv, success)``
    (N×C×H×W in [0, 1]; a failed example gets a red X). ``vmax`` fixes the scale's end (default:
    the largest |δ| shown, at least one 8-bit grey level, 1/255); pass a fixed ``vmax`` to compare
    figures with each other. ``col_titles`` label the originals' columns. The figure's ``linf`` attribute
    holds each method's per-sample L∞ norms and ``vmax`` the scale used.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be N×C×H×W, got shape {tuple(x.shape)}")
    if not examples:
        raise ValueError("examples must name at least one method: {name: x_adv or (x_adv, success)}")
    x = x[:n].detach().cpu().float()
    n = len(x)
    items = []
    for name, value in examples.items():
        xa, ok = value if isinstance(value, tuple) else (value, None)
        xa = torch.as_tensor(xa)[:n].detach().cpu().float()
        if xa.shape != x.shape:
            raise ValueError(f"{name}: examples must have the originals' shape {tuple(x.shape)}, got {tuple(xa.shape)}")
        if ok is not None:
            ok = torch.as_tensor(np.asarray(ok.cpu() if isinstance(ok, torch.Tensor) else ok)).bool()[:n]
        items.append((str(name), xa, ok, xa - x))
    peak = max(float(d.abs().max()) for *_, d in items)
    vmax = float(vmax) if vmax is not None else max(peak, 1 / 255)
    if not vmax > 0:
        raise ValueError(f"vmax must be > 0, got {vmax}")
    n_rows = 1 + 2 * len(items)
    labels = ["original"] + [lab for name, *_ in items for lab in (name, f"δ {name}")]
    left = 0.15 + 0.07 * max(map(len, labels))
    width, height = left + n * scale + 1.1, 0.5 + n_rows * (scale + 0.22) + (0.4 if title else 0.0)
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(n_rows, n, squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - 1.0 / width, top=1 - (0.5 + (0.4 if title else 0.0)) / height,
        bottom=0.1 / height, wspace=0.08, hspace=0.35))
    grey = lambda t: t[0].numpy() if t.shape[0] == 1 else t.permute(1, 2, 0).numpy()  # noqa: E731
    image = None
    fig.linf, fig.vmax = {}, vmax
    col_titles = _labels(col_titles, n, "col_titles")
    for c in range(n):
        axes[0][c].imshow(grey(x[c]), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        if col_titles:
            axes[0][c].set_title(col_titles[c], fontsize="small")
    for i, (name, xa, ok, d) in enumerate(items):
        linf = d.flatten(1).abs().amax(1)
        fig.linf[name] = linf
        for c in range(n):
            axes[1 + 2 * i][c].imshow(grey(xa[c]), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if ok is not None and not bool(ok[c]):
                draw_cross(axes[1 + 2 * i][c])
            signed = d[c].mean(0).numpy()  # one value per pixel (channels averaged for RGB)
            image = axes[2 + 2 * i][c].imshow(signed, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            axes[2 + 2 * i][c].set_title(f"L∞ {float(linf[c]):.3g}", fontsize=7, pad=2)
    for r, row in enumerate(axes):
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(labels[r], rotation=0, ha="right", va="center", fontsize="small")
    cax = fig.add_axes([1 - 0.85 / width, 0.1 / height, 0.12 / width, 1 - (0.7 + (0.4 if title else 0.0)) / height])
    bar = fig.colorbar(image, cax=cax)
    bar.set_label(f"δ = x' − x, shared scale ±{vmax:.3g} (1 grey level = 0.0039)", fontsize="small")
    if title:
        fig.suptitle(title, y=1 - 0.1 / height, va="top")
    return fig

def show(fig: matplotlib.figure.Figure) -> None:
    """Display any matplotlib figure in a notebook as a PNG (no pyplot backend needed)."""
    display(Image(data=figure_png(fig), format="png"))
