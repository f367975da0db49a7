"""Drive JupyterLab in headless Chromium the way a workshop participant does.

Used by ``tests/test_browser.py``. :class:`LabServer` runs ``jupyter lab`` on 127.0.0.1 (a free
port, a random token, isolated settings/runtime folders) and always stops it; :func:`check_notebook`
opens one notebook, runs all cells from the menu, waits for the kernel, collects every error,
moves the first ipywidgets slider with the keyboard and reports whether the output it drives
changed, then saves a screenshot. The browser is the Debian ``chromium`` package (Playwright's own
browser downloads are not possible offline), found by :func:`chromium_executable`.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Where the Debian/Ubuntu packages put the browser; UAELAB_CHROMIUM overrides.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("UAELAB_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def skip_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if chromium_executable() is None:
        return ("no Chromium executable found (apt-get install chromium, run .ci/install-browser.sh, "
                "or set UAELAB_CHROMIUM)")
    return None


def launch_args() -> list[str]:
    """Chromium refuses its sandbox as root (CI containers); it is not needed for a local page."""
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings_dir: Path) -> None:
    """User settings for a quiet, deterministic Lab: every cell in the DOM, no news pop-ups."""
    files = {
        # windowing off: cells outside the viewport stay rendered, so checks and screenshots see them
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for rel, content in files.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


class LabServer:
    """``jupyter lab`` serving ``root_dir``; a context manager that always shuts it down."""

    def __init__(self, root_dir: Path, state_dir: Path, startup_timeout: float = 90.0):
        self.root_dir, self.state_dir = Path(root_dir), Path(state_dir)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state_dir / "jupyterlab.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LabServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        settings, work = self.state_dir / "user-settings", self.state_dir / "workspaces"
        write_settings(settings)
        work.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.pop("UAELAB_HEADLESS", None)  # the point of this test: widgets must render
        env.update(
            JUPYTER_CONFIG_DIR=str(self.state_dir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.state_dir / "runtime"),
            JUPYTER_DATA_DIR=str(self.state_dir / "data"),  # no user kernelspec shadows the venv's
            JUPYTER_PLATFORM_DIRS="1",
        )
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={work}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # safety net if the test process itself is killed (SIGKILL skips every finally):
            # unconnected idle kernels are culled, then the server stops once nothing runs
            "--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
            "--ServerApp.shutdown_no_activity_timeout=300",
        ] + (["--allow-root"] if os.geteuid() == 0 else [])  # CI containers run as root
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        # its own process group, so stop() can end the server and anything it forked
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer /api/status in {self.startup_timeout} s:\n"
                           f"{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 5.0):
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut down kernels and server: /api/shutdown, then SIGTERM, then SIGKILL of the group."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            self.api("POST", "shutdown")  # graceful: the server also shuts its kernels down
            proc.wait(timeout=15)
        except Exception:  # noqa: BLE001 - whatever went wrong, fall through to signals
            pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        # ipykernel exits by itself once its parent (the server) is gone (parent poller)


# ----------------------------------------------------------------------------- in the page

@dataclass
class NotebookReport:
    """What :func:`check_notebook` saw in one notebook."""

    name: str
    errors: list[str] = field(default_factory=list)  # error outputs, unrun cells, widget failures
    n_code_cells: int = 0
    n_sliders: int = 0
    slider_value: tuple[str, str] | None = None  # readout before / after the move
    output_before: str = ""  # what the slider's output showed (text + image digests)
    output_after: str = ""
    seconds_open: float = 0.0  # page load until the kernel is idle
    seconds_run_all: float = 0.0
    screenshot: Path | None = None
    console_errors: list[str] = field(default_factory=list)  # JS errors in the page (for diagnosis)

    @property
    def output_changed(self) -> bool:
        return bool(self.output_before) and self.output_before != self.output_after


# JS run in the page. Everything goes through the DOM or the exposed app's notebook model.
# the notebook ``name`` is the current tab, its kernel is idle and its cells are in the DOM
_JS_READY = """(name) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.sessionContext || !w.context || w.context.path !== name) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return w.context.isReady && !!k && k.status === 'idle' && w.content.widgets.length > 0;
}"""

_JS_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const prompts = cells.map(c => (c.node.querySelector('.jp-InputPrompt') || {}).textContent || '');
  return {status: kernel ? kernel.status : 'none',
          pending: prompts.filter(p => p.includes('*')).length,
          counts: cells.map(c => c.model.executionCount)};
}"""

_JS_ERRORS = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errs = [];
  panel.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    const src = c.model.sharedModel.getSource();
    if (c.model.executionCount === null && src.trim()) errs.push(`cell ${i}: not executed`);
    c.model.outputs.toJSON().forEach(o => {
      if (o.output_type === 'error') errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    });
  });
  // errors drawn in the page: tracebacks inside widget Output areas (a slider callback that
  // raised; warnings and progress text on stderr are fine), and widgets that failed to render
  const traceback = /Traceback \(most recent call last\)|^\w*(Error|Exception)\b/m;
  panel.node.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').forEach(el => {
    if (el.closest('.widget-output') && traceback.test(el.textContent))
      errs.push('widget output: ' + el.textContent.slice(0, 300));
  });
  panel.node.querySelectorAll('.jp-OutputArea-output').forEach(el => {
    const t = el.textContent;
    if (/Error displaying widget|Failed to load model class|Error rendering/.test(t))
      errs.push('widget: ' + t.slice(0, 300));
  });
  return errs;
}"""

# text + a digest of every image inside the Output widget next to a slider
_JS_SNAPSHOT = """(slider) => {
  let box = slider.closest('.widget-vbox, .widget-box');
  let out = null;
  while (box && !(out = box.querySelector('.widget-output'))) box = box.parentElement.closest('.widget-box');
  if (!out) return '';
  const imgs = Array.from(out.querySelectorAll('img')).map(i => {
    const s = i.getAttribute('src') || ''; let h = 0;
    for (let k = 0; k < s.length; k++) h = (h * 31 + s.charCodeAt(k)) | 0;
    return `img:${s.length}:${h}`;
  });
  const svgs = Array.from(out.querySelectorAll('svg')).map(s => `svg:${s.outerHTML.length}`);
  return JSON.stringify({text: out.innerText, imgs, svgs});
}"""


def _wait_state(page, pred, timeout: float, settle: float = 1.0) -> dict:
    """Poll the notebook state until ``pred(state)`` holds for ``settle`` seconds."""
    deadline, since = time.monotonic() + timeout, None
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_JS_STATE)
        if pred(state):
            since = since or time.monotonic()
            if time.monotonic() - since >= settle:
                return state
        else:
            since = None
        page.wait_for_timeout(250)
    raise TimeoutError(f"notebook did not settle in {timeout} s: {state}")


def _idle(state: dict) -> bool:
    return state["status"] == "idle" and state["pending"] == 0


def run_all_from_menu(page) -> None:
    """Run > Run All Cells, as a person does it."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def move_slider(page, slider) -> None:
    """Move one step with the keyboard on the noUiSlider handle: left at the top end, else right."""
    handle = slider.locator(".noUi-handle").first
    now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
    handle.focus()
    at_top = now is not None and top is not None and float(now) >= float(top)
    page.keyboard.press("ArrowLeft" if at_top else "ArrowRight")


CONTROLS = {"slider": ".widget-slider", "dropdown": ".widget-dropdown"}  # what check_notebook can drive


def pick_other_option(select) -> None:
    """Choose the next option of a ``<select>`` (the first one when the last is selected)."""
    values = select.locator("option").evaluate_all("(os) => os.map(o => o.value)")
    now = select.input_value()
    i = values.index(now) if now in values else -1
    select.select_option(values[(i + 1) % len(values)])


def check_notebook(page, server: LabServer, name: str, screenshot: Path | None = None,
                   run_timeout: float = 240.0, widget_timeout: float = 60.0,
                   render_timeout: float = 15.0, control: str = "slider") -> NotebookReport:
    """Open ``name`` (relative to the server root), run all, move a slider (``control="dropdown"``:
    choose another option of the first dropdown); return what happened.

    ``run_timeout``: seconds for Run All; ``render_timeout``: for the first control to appear after
    the kernel is idle; ``widget_timeout``: for the control's output to change after the move.
    """
    rep = NotebookReport(name)
    page.on("pageerror", lambda exc: rep.console_errors.append(str(exc)[:300]))
    # a fresh workspace per notebook: no tabs restored from an earlier notebook steal the focus
    workspace = re.sub(r"\W", "-", name)
    t0 = time.monotonic()
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={server.token}")
    page.wait_for_function(_JS_READY, arg=name, timeout=90_000)
    rep.seconds_open = time.monotonic() - t0
    t0 = time.monotonic()
    run_all_from_menu(page)
    try:  # Run All must visibly start: a pending prompt or an execution count
        _wait_state(page, lambda s: s["pending"] or any(c is not None for c in s["counts"]), 30, 0)
    except TimeoutError as exc:
        raise AssertionError(f"{name}: Run > Run All Cells started nothing") from exc
    # then the kernel goes idle with nothing pending
    state = _wait_state(page, _idle, run_timeout, settle=1.5)
    rep.seconds_run_all = time.monotonic() - t0
    rep.n_code_cells = len(state["counts"])
    rep.errors += page.evaluate(_JS_ERRORS)

    sliders = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {CONTROLS[control]}")
    try:  # widgets render asynchronously after the kernel answered
        sliders.first.wait_for(state="visible", timeout=render_timeout * 1000)
    except Exception:  # noqa: BLE001 - no slider is a finding, reported below
        pass
    rep.n_sliders = sliders.count()
    if rep.n_sliders:
        slider = sliders.first
        readout = slider.locator(".widget-readout" if control == "slider" else "select")
        value = (lambda: readout.inner_text()) if control == "slider" else (lambda: readout.input_value())
        before_val = value() if readout.count() else ""
        rep.output_before = slider.evaluate(_JS_SNAPSHOT)
        if control == "slider":
            move_slider(page, slider)
        else:
            pick_other_option(readout)
        deadline = time.monotonic() + widget_timeout
        while time.monotonic() < deadline:
            page.wait_for_timeout(300)
            rep.output_after = slider.evaluate(_JS_SNAPSHOT)
            if rep.output_after != rep.output_before and _idle(page.evaluate(_JS_STATE)):
                page.wait_for_timeout(500)  # let a figure finish drawing
                rep.output_after = slider.evaluate(_JS_SNAPSHOT)
                break
        _wait_state(page, _idle, widget_timeout, settle=0.5)
        rep.slider_value = (before_val, value() if readout.count() else "")
        rep.errors += [e for e in page.evaluate(_JS_ERRORS) if e not in rep.errors]
    if screenshot is not None:
        rep.screenshot = save_screenshot(page, screenshot)
    # free the kernel's memory before the next notebook
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    return rep


_JS_SCROLLER = "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"


def save_screenshot(page, path: Path) -> Path:
    """The whole notebook, not just the viewport: grow the window to the notebook's height."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scroller = page.evaluate_handle(_JS_SCROLLER)
    height = page.evaluate("(s) => s ? s.scrollHeight : 0", scroller)
    vp = page.viewport_size or {"width": 1280, "height": 900}
    page.set_viewport_size({"width": vp["width"], "height": int(min(max(height + 150, 900), 16000))})
    page.evaluate("(s) => { if (s) s.scrollTop = 0; }", scroller)  # Run All left it at the end
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    page.set_viewport_size(vp)
    return path


# ----------------------------------------------------------------------------- synthetic notebooks

_SETUP = """import matplotlib
import matplotlib.pyplot as plt
from uaelab.viz.widgets import explore, slider
"""

_CELLS = {
    # a slider that drives both a printed value and a matplotlib figure (and writes a
    # harmless line to stderr, as warnings and progress bars do: that is not an error)
    "good": """import sys

def show(k):
    print(f"k squared = {k * k}")
    print("a warning on stderr is not an error", file=sys.stderr)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(range(10), [i ** (k / 3) for i in range(10)])
    ax.set_title(f"k = {k}")
    plt.show()

explore(show, k=slider(1, 5, 1, value=2))
""",
    # fine with the default, raises as soon as the slider moves
    "raises": """def show(k):
    if k != 2:
        raise ValueError(f"broken widget callback at k={k}")
    print(f"k = {k}")

explore(show, k=slider(1, 5, 1, value=2))
""",
    # the kernel thinks it is headless: explore() prints once and draws no slider
    "headless": """import os
os.environ["UAELAB_HEADLESS"] = "1"

def show(k):
    print(f"k = {k}")

explore(show, k=slider(1, 5, 1, value=2))
""",
    # a slider wired to nothing: its output never changes
    "inert": """def show(k):
    print("this output ignores the slider")

explore(show, k=slider(1, 5, 1, value=2))
""",
}


FIXTURE_KINDS = tuple(_CELLS)


def assert_figure_shown(rep: NotebookReport) -> None:
    """The widget's output shows an image (a figure), before and after the control moved."""
    for when, out in (("before", rep.output_before), ("after", rep.output_after)):
        assert '"imgs":["img:' in out, f"{rep.name}: no figure in the widget's output {when} the move: {out[:200]!r}"


def assert_widgets_work(rep: NotebookReport) -> None:
    """What a learner needs: no errors, a slider on screen, and moving it changes the output."""
    where = f"{rep.name} (screenshot: {rep.screenshot}; page errors: {rep.console_errors[:3]})"
    assert not rep.errors, f"errors in {where}:\n" + "\n".join(rep.errors)
    assert rep.n_sliders >= 1, f"no ipywidgets slider rendered in {where}"
    assert rep.slider_value and rep.slider_value[0] != rep.slider_value[1], \
        f"the slider did not move ({rep.slider_value}) in {where}"
    assert rep.output_changed, (f"moving the slider {rep.slider_value} did not change its output in "
                                f"{where}; output stayed {rep.output_after[:200]!r}")


def write_widget_notebook(path: Path, kind: str) -> Path:
    """A notebook whose slider is healthy (``good``), raises, is not drawn, or drives nothing."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Browser-test fixture: `{kind}` slider"),
                nbformat.v4.new_code_cell(_SETUP), nbformat.v4.new_code_cell(_CELLS[kind])]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
