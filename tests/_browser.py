"""Helpers of the browser, JupyterLab, deck and site tests: headless Chromium, `make lab` (one per
test run: shared_lab), the test run's one build of the decks and the site (built_course), a
static server, processes.

Chromium is Debian's (`apt-get install chromium`, as .ci/run does), driven through Playwright's
Python package (requirements.txt); Playwright never downloads a browser of its own here.
Set LVM_CHROMIUM to use another Chromium binary.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import _executions

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# A test JupyterLab must not touch the developer's settings and workspaces, nor save the
# lecture it runs (autosave). No news question, no update check: that comes from the course's
# own settings (jupyter-config/, what `make lab` gives students), which the tests check.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None."""
    for candidate in (os.environ.get("LVM_CHROMIUM"), "chromium", "chromium-browser",
                      "/usr/bin/chromium"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("Playwright's Python package is not installed "
                "(`.venv/bin/pip install -r requirements.txt`)")
    if chromium_path() is None:
        return ("Chromium not found: install Debian's `chromium` (apt-get install chromium, "
                "as .ci/run does) or set LVM_CHROMIUM=/path/to/chromium")
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def descendants(pid: int | None = None) -> set[int]:
    """Every living process below `pid` (default: this one), read from /proc."""
    pid = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":                       # zombies are already gone
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids) -> set[int]:
    """Those of `pids` that still run (not zombies)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@contextlib.contextmanager
def make_lab(env_drop=("MPLBACKEND",)):
    """`make lab` on a free port, no browser, isolated settings (tests/test_lab.py uses it too).

    Yields (base_url, token, started) where `started` lists every process of the server and its
    kernels seen while it ran; on exit the kernels are shut down, the server is stopped and every
    one of those processes is checked (and, if need be, killed).

    The server's output goes to a log file (jupyterlab-PORT.log in the test run's folder, else in
    the server's temporary home), never to a pipe that nobody reads: a server that logged more
    than a pipe holds (64 KiB) would block on its next line. A server that does not start is
    reported with the log's last lines.
    """
    port, token = free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="lvm-lab-") as home, \
            open(Path(os.environ.get(_executions.RUN_DIR_ENV) or home) / f"jupyterlab-{port}.log",
                 "w+b") as log:
        settings = Path(home) / "settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values), encoding="utf-8")
        args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={token} "
                f"--LabApp.user_settings_dir={settings} "
                f"--LabApp.workspaces_dir={Path(home) / 'workspaces'} "
                # RISE's slideshow (/rise/...) is an app of its own: the same isolated folders
                f"--RiseApp.user_settings_dir={settings} "
                f"--RiseApp.workspaces_dir={Path(home) / 'workspaces'}")
        env = {k: v for k, v in os.environ.items() if k not in env_drop}
        proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        started: set[int] = {proc.pid}
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    _get(f"{base}/api/status?token={token}")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        out = Path(log.name).read_bytes()[-2000:].decode(errors="replace")
                        raise RuntimeError(f"JupyterLab did not start on port {port} (its log: "
                                           f"{log.name}):\n{out}")
                    time.sleep(0.3)
            yield base, token, started
        finally:
            started |= descendants(proc.pid)
            with contextlib.suppress(OSError, ValueError):
                for kernel in json.loads(_get(f"{base}/api/kernels?token={token}")):
                    request = urllib.request.Request(
                        f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
                    urllib.request.urlopen(request, timeout=10).close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            deadline = time.monotonic() + 10
            while alive(started) and time.monotonic() < deadline:
                time.sleep(0.2)
            for pid in alive(started):             # last resort; the test reports it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def static_server(folder: Path):
    """Serve `folder` on a loopback port from a thread of this process; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Playwright) context whose requests may reach loopback only.

    Yields (context, remote) where `remote` collects every request for another host (aborted).
    """
    from playwright.sync_api import sync_playwright

    remote: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            remote.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.route("**/*", only_loopback)
            yield context, remote
            context.close()
        finally:
            browser.close()


@contextlib.contextmanager
def checked_page(context, remote):
    """A new page of ``context``; when it closes, no request may have left localhost (``remote``,
    recorded by :func:`chromium`) and no JavaScript error may have happened."""
    remote.clear()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert not remote, f"the page asked the network for {remote}"
    assert not errors, f"JavaScript errors: {errors}"


DONE = ".done"   # beside a shared build's folder: the build finished


def _once_per_run(name: str, make, timeout: float = 1800) -> Path:
    """``make(folder)`` run once per test run, by whichever process of the run (pytest-xdist's
    workers, or pytest alone) asks first, into ``name`` in the run's shared folder (made by the
    root conftest.py); the other processes wait for it. Outside the suite (no run folder), into
    a temporary folder of this process."""
    import atexit

    run = os.environ.get(_executions.RUN_DIR_ENV)
    if not run:
        folder = Path(tempfile.mkdtemp(prefix=f"lvm-{name}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        make(folder)
        return folder
    folder, claim = Path(run) / name, Path(run) / f"{name}.claimed"
    try:
        claim.mkdir()                     # atomic: the first process to get here builds
    except FileExistsError:
        deadline = time.monotonic() + timeout
        while not (claim / DONE).exists():
            if (claim / "failed").exists():
                raise RuntimeError(f"{name}: the build failed in another process of this test "
                                   f"run: {(claim / 'failed').read_text(encoding='utf-8')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: another process of this test run has been building "
                                   f"it for {timeout:.0f} s")
            time.sleep(0.5)
        return folder
    try:
        make(folder)
    except BaseException as err:
        (claim / "failed").write_text(f"{type(err).__name__}: {err}", encoding="utf-8")
        raise
    (claim / DONE).write_text("", encoding="utf-8")
    return folder


@functools.lru_cache(maxsize=None)
def built_course() -> Path:
    """`make html` (tools.site: the decks of `make slides` into slides/, then the site into
    html/) built once per test run, from the committed notebooks, into the run's shared folder;
    the deck tests (tests/test_slides.py), the site tests (tests/test_site.py) and the browser
    tests (tests/test_browser.py, tests/test_site_browser.py) all read this one build, on
    either worker. Returns the build folder."""
    from tools import site

    def make(folder: Path) -> None:
        _executions.record("tools/site", _executions.BUILD)
        site.build(folder)

    return _once_per_run("course-build", make)


# ---- one JupyterLab per test run (test_lab.py, test_browser.py: the lab and RISE) -------------

# The tests that use the JupyterLab are one pytest-xdist group, so they share one worker's session.
LAB_GROUP = "jupyterlab"


def shared_lab(request):
    """`make lab` (make_lab) started at the first call of the test session and stopped at its
    end; returns (base_url, token, server_pid). Every test that calls it is in the pytest-xdist
    group LAB_GROUP, so one JupyterLab serves them all (the summary counts its starts). Tests that start kernels shut them down
    (shutdown_kernels); at the end every process of the server and its kernels must be gone,
    else the session's last test errors at teardown."""
    mark = request.node.get_closest_marker("xdist_group")
    if mark is None or mark.args[:1] != (LAB_GROUP,):
        raise RuntimeError(f"{request.node.nodeid} uses the test run's JupyterLab: mark it "
                           f"pytest.mark.xdist_group({LAB_GROUP!r}), else another worker starts "
                           "a JupyterLab of its own")
    session = request.session
    lab = getattr(session, "_lvm_shared_lab", None)
    if lab is None:
        _executions.record("make lab", _executions.LAB)
        stack = contextlib.ExitStack()
        base, token, started = stack.enter_context(make_lab())
        server = min(started)                       # the `make lab` process itself

        def stop():
            stack.close()
            left = alive(started)
            assert not left, f"JupyterLab or a kernel survived the test session: {sorted(left)}"

        session.addfinalizer(stop)
        lab = session._lvm_shared_lab = (base, token, server)
    return lab


def kernel_processes(server: int) -> set[int]:
    """The living kernels (ipykernel) below the JupyterLab process `server`."""
    found = set()
    for pid in alive(descendants(server)):
        with contextlib.suppress(OSError):
            if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
    return found


def shutdown_kernels(base: str, token: str, server: int, timeout: float = 20) -> set[int]:
    """Shut every kernel of the lab down (REST API) and wait for their processes to end; returns
    those still alive after `timeout` seconds (none, when all is well)."""
    with contextlib.suppress(OSError, ValueError):
        for kernel in json.loads(_get(f"{base}/api/kernels?token={token}")):
            request = urllib.request.Request(
                f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + timeout
    while (left := kernel_processes(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


# ---- decks: every slide measured -------------------------------------------------------------

# Visit every slide of a deck (reveal's linear order), show all its fragments, wait for MathJax
# and the deck's courseFit, and measure how far its content reaches below its top, in canvas
# pixels (reveal's scale taken out).
MEASURE_SLIDES = r"""async () => {
  const settle = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const out = [];
  const slides = [...document.querySelectorAll(".reveal .slides section")]
    .filter(s => !s.querySelector("section"));
  for (const slide of slides) {
    const i = Reveal.getIndices(slide);
    Reveal.slide(i.h, i.v || 0);
    while (Reveal.nextFragment()) {}
    for (let k = 0; k < 200 && !slide.dataset.fitZoom; k++) {
      await new Promise(r => setTimeout(r, 25));
    }
    await settle();
    const top = slide.getBoundingClientRect().top;
    let bottom = top;
    for (const el of slide.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.height > 0 && r.width > 0) bottom = Math.max(bottom, r.bottom);
    }
    out.push({number: out.length + 1, h: i.h, v: i.v || 0,
              height: Math.round((bottom - top) / Reveal.getScale()),
              zoom: parseFloat(slide.dataset.fitZoom || "NaN"),
              text: slide.innerText.trim().slice(0, 50).replace(/\s+/g, " ")});
  }
  return out;
}"""


def lab_url(base: str, token: str, path: str) -> str:
    """The JupyterLab page that opens `path` in a workspace of its own: the session's JupyterLab
    serves several tests, and each starts from an empty layout (no tab of another test)."""
    return f"{base}/lab/workspaces/test-{secrets.token_hex(4)}/tree/{path}?token={token}"
