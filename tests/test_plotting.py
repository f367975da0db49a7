"""Tests for uaelab.viz.plotting: layouts, red-cross marking, signed differences, input checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from uaelab.viz.plotting import CROSS_GID, comparison_grid, diff_image, image_grid, new_figure


def _crossed(fig: Figure) -> list[int]:
    """Indices of the axes (row-major) that carry the two red cross lines."""
    out = []
    for i, ax in enumerate(fig.axes):
        lines = [ln for ln in ax.lines if ln.get_gid() == CROSS_GID]
        if lines:
            assert len(lines) == 2 and all(ln.get_color() == "red" for ln in lines)
            out.append(i)
    return out


def test_flat_grid_layout_and_pixels():
    x = torch.rand(10, 1, 5, 6)
    fig = image_grid(x, nrow=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12  # 3 rows × 4 columns, last two hidden
    assert [ax.get_visible() for ax in fig.axes] == [True] * 10 + [False] * 2
    shown = fig.axes[7].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown), x[7, 0].numpy())


def test_rgb_and_grey_images():
    rgb = torch.rand(2, 3, 4, 4)
    fig = image_grid(rgb)
    assert np.asarray(fig.axes[1].images[0].get_array()).shape == (4, 4, 3)
    grey = image_grid(torch.rand(3, 4, 4))  # N×H×W is grey
    assert np.asarray(grey.axes[0].images[0].get_array()).shape == (4, 4)


def test_2d_layout_titles_and_crosses():
    x = torch.rand(2, 3, 1, 4, 4)
    crosses = torch.tensor([[False, True, False], [True, False, False]])
    fig = image_grid(x, row_titles=["a", "b"], col_titles=["c0", "c1", "c2"], crosses=crosses)
    assert _crossed(fig) == [1, 3]
    assert fig.axes[3].get_ylabel() == "b"
    assert fig.axes[2].get_title() == "c2"


def test_list_of_rows_ragged():
    rows = [[torch.rand(1, 3, 3)] * 3, [torch.rand(1, 3, 3)]]
    fig = image_grid(rows, crosses=[[False, False, True], [True]])
    assert len(fig.axes) == 6 and not fig.axes[4].get_visible()
    assert _crossed(fig) == [2, 3]


def test_flat_crosses_follow_row_major_order():
    fig = image_grid(torch.rand(5, 1, 3, 3), nrow=2, crosses=torch.tensor([0, 0, 1, 0, 1]).bool())
    assert _crossed(fig) == [2, 4]


def test_comparison_grid_crosses_failed_adversarials():
    x = torch.rand(4, 1, 6, 6)
    x_adv = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    fig = comparison_grid(x, x_adv, success=torch.tensor([True, False, True, False]))
    # row 1 (adversarial) holds axes 4..7; samples 1 and 3 failed
    assert _crossed(fig) == [5, 7]
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == ["original", "adversarial", "difference"]


def test_diff_image_scaling():
    x = torch.zeros(2, 1, 2, 2)
    x_adv = x.clone()
    x_adv[0, 0, 0, 0] = 0.2
    x_adv[0, 0, 1, 1] = -0.1  # decreases map below 0.5
    d = diff_image(x, x_adv)
    assert d[0, 0, 0, 0].item() == pytest.approx(1.0)
    assert d[0, 0, 1, 1].item() == pytest.approx(0.25)
    assert d[0, 0, 0, 1].item() == pytest.approx(0.5)
    assert torch.all(d[1] == 0.5)  # unchanged image: no division by zero
    whole = diff_image(x, x_adv, per_image=False)
    assert whole.min() >= 0 and whole.max() <= 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(2, 2, 4, 4), "C = 1"),
        (torch.rand(2, 1, 4, 4) * 2, r"\[0, 1\]"),
        (torch.full((1, 1, 2, 2), float("nan")), "NaN"),
        (torch.randint(0, 255, (1, 1, 2, 2)), "float"),
    ],
)
def test_bad_images_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        image_grid(bad)


def test_bad_crosses_and_titles_raise():
    with pytest.raises(ValueError, match="crosses"):
        image_grid(torch.rand(4, 1, 2, 2), crosses=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="row_titles"):
        image_grid(torch.rand(4, 1, 2, 2), nrow=2, row_titles=["only one"])
    with pytest.raises(ValueError, match="success"):
        comparison_grid(torch.rand(2, 1, 2, 2), torch.rand(2, 1, 2, 2), success=[True])


def test_figures_render_as_png_in_notebooks():
    fig = image_grid(torch.rand(2, 1, 4, 4))
    png = fig._repr_png_()  # what Jupyter calls for a cell's value, no pyplot involved
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 100
    assert new_figure(figsize=(2, 1))._repr_png_()[:4] == b"\x89PNG"


@pytest.mark.parametrize("kw", [{}, {"title": "t", "row_titles": ["a", "bb"], "col_titles": list("cdef")}])
def test_cells_are_square_and_do_not_overlap(kw):
    fig = image_grid(torch.rand(8, 1, 8, 8), nrow=4, scale=0.5, **kw)
    w, h = fig.get_size_inches()
    boxes = [ax.get_position() for ax in fig.axes]
    for b in boxes:
        assert b.width * w == pytest.approx(0.5) and b.height * h == pytest.approx(0.5)
        assert 0 <= b.x0 and b.x1 <= 1 and 0 <= b.y0 and b.y1 <= 1
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_x <= 1e-9 or overlap_y <= 1e-9


def test_perturbation_grid_shared_scale_and_linf():
    from uaelab.viz.plotting import perturbation_grid

    x = torch.full((3, 1, 4, 4), 0.5)
    big, small = x.clone(), x.clone()
    big[:, :, 0, 0] += 0.2
    small[:, :, 1, 1] -= 0.001
    fig = perturbation_grid(x, {"big": big, "small": (small, torch.tensor([True, False, True]))})
    assert fig.vmax == pytest.approx(0.2, abs=1e-6)  # one scale for every δ row: the largest change
    assert torch.allclose(fig.linf["small"], torch.full((3,), 0.001), atol=1e-6)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles.count("L∞ 0.2") == 3 and titles.count("L∞ 0.001") == 3
    assert any(ax.get_ylabel() == "δ small" for ax in fig.axes)
    assert _crossed(fig)  # the failed example is crossed out
    assert fig._repr_png_()[:4] == b"\x89PNG"
    assert perturbation_grid(x, {"none": x}).vmax == pytest.approx(1 / 255)  # never a zero-width scale
    with pytest.raises(ValueError):
        perturbation_grid(x, {"bad": x[:, :, :2]})
