"""End to end: the notebooks as a learner meets them, in JupyterLab in a real (headless) browser.

nbval proves that the cells run headless; this proves that a person sees working widgets. One
JupyterLab server (127.0.0.1, free port, random token) serves a temporary copy of ``notebooks/``;
headless Chromium (the Debian package, driven by Playwright) opens each notebook, runs
Run > Run All Cells, waits for the kernel to go idle, asserts there is no error output, that an
ipywidgets slider is drawn, and that moving it changes the output it drives (printed text or the
figure's image bytes). Screenshots go to ``test-artifacts/browser/``. Three deliberately broken
notebooks (callback raises, slider not drawn, slider wired to nothing) check that the harness
notices each failure. Skipped, with the reason, without Playwright or a Chromium executable
(``.ci/install-browser.sh`` installs it).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from browser_helpers import (
    FIXTURE_KINDS,
    LabServer,
    assert_figure_shown,
    assert_widgets_work,
    check_notebook,
    chromium_executable,
    launch_args,
    skip_reason,
    write_widget_notebook,
)
from conftest import REPO

REASON = skip_reason()
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(REASON is not None, reason=f"browser test skipped: {REASON}")]

# The issue asks for at least these two; each has an explore() slider cell.
NOTEBOOKS = ["00_quickstart.ipynb", "02_supervised_attacks.ipynb"]
ARTIFACTS = REPO / "test-artifacts" / "browser"
FIXTURES = "_browser_fixtures"  # sub-folder of the server root with the synthetic notebooks
BROKEN = {  # fixture kind -> the failure assert_widgets_work must report
    "raises": "errors in",
    "headless": "no ipywidgets slider rendered",
    "inert": "did not change its output",
}
assert set(BROKEN) | {"good"} == set(FIXTURE_KINDS)
TIMINGS: dict[str, dict[str, float]] = {}  # written to test-artifacts/browser/timings.json


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a throw-away copy of notebooks/ (plus the synthetic fixtures); always stopped."""
    base = tmp_path_factory.mktemp("browser")
    root = base / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for kind in FIXTURE_KINDS:
        write_widget_notebook(root / FIXTURES / f"{kind}.ipynb", kind)
    server = LabServer(root, base / "state")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if server.log_path.exists():  # for diagnosing a failure after the fact
            shutil.copyfile(server.log_path, ARTIFACTS / "jupyterlab.log")
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
    with pytest.raises(OSError):  # the server is really gone, not just forgotten
        server.api("GET", "status", timeout=2)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_executable(), headless=True,
                                      args=launch_args())
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _check(page, lab, name: str, shot: Path, **kw):
    t0 = time.monotonic()
    try:
        rep = check_notebook(page, lab, name, screenshot=shot, **kw)
        TIMINGS[name] = {"open_s": round(rep.seconds_open, 1), "run_all_s": round(rep.seconds_run_all, 1),
                         "total_s": round(time.monotonic() - t0, 1)}
        return rep
    except BaseException:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot.with_name(shot.stem + "-failed.png")))
        raise


def test_harness_passes_a_healthy_slider(lab, page):
    rep = _check(page, lab, f"{FIXTURES}/good.ipynb", ARTIFACTS / "fixtures" / "good.png")
    assert_widgets_work(rep)
    # the printed value and the figure both follow the slider (k: 2 -> 3)
    assert "k squared = 4" in rep.output_before and "k squared = 9" in rep.output_after
    assert '"imgs":["img:' in rep.output_after and rep.output_after.split('"imgs"')[1] != \
        rep.output_before.split('"imgs"')[1]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_harness_catches_a_broken_widget(lab, page, kind):
    rep = _check(page, lab, f"{FIXTURES}/{kind}.ipynb", ARTIFACTS / "fixtures" / f"{kind}.png",
                 widget_timeout=5, render_timeout=5)
    with pytest.raises(AssertionError, match=BROKEN[kind]):
        assert_widgets_work(rep)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_widgets_work_in_jupyterlab(lab, page, name):
    assert (REPO / "notebooks" / name).is_file(), f"notebooks/{name} is missing"
    rep = _check(page, lab, name, ARTIFACTS / f"{Path(name).stem}.png", run_timeout=480)
    assert rep.n_code_cells > 0
    assert_widgets_work(rep)
    assert rep.screenshot is not None and rep.screenshot.stat().st_size > 10_000


def test_uae_browser_dropdown_draws_a_figure(lab, page):
    """Notebook 06's widget (two dropdowns, no slider): choosing another autoencoder redraws its
    figure. Its callback once returned the figure instead of displaying it, leaving the widget empty."""
    name = "06_uae_reconstruction.ipynb"
    rep = _check(page, lab, name, ARTIFACTS / f"{Path(name).stem}.png", run_timeout=600, control="dropdown")
    assert_widgets_work(rep)
    assert_figure_shown(rep)


BOOK = REPO / "build" / "book" / "_build" / "html"  # written by `make book`


def test_static_book_page_shows_the_executed_notebook(browser):
    """`make book`'s static site: one notebook's page opens from disk (no server, no kernel) and
    shows its executed outputs: its title, figures and a table. Skipped until `make book` ran."""
    page_path = BOOK / "notebooks" / "02_supervised_attacks.html"
    if not page_path.exists():
        pytest.skip(f"the static site is not built ({page_path.relative_to(REPO)} missing): run `make book`")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_path.as_uri())
        assert "02 · Supervised attacks with MINE" in page.locator("h1").first.inner_text()
        images = page.locator("article img, main img")
        assert images.count() >= 3  # the attack grids and the controls' shared-scale figure
        assert all(images.nth(i).evaluate("(i) => i.complete && i.naturalWidth > 0") for i in range(images.count()))
        assert page.locator("table").count() >= 1  # the executed tables
        page.wait_for_selector("mjx-container", timeout=15_000)  # formulas typeset by the book's own MathJax
        assert "Traceback" not in page.locator("body").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "book_02_supervised_attacks.png"), full_page=True)
    finally:
        context.close()
