"""Open the book in headless Chromium with the network cut: the landing page and one notebook page
load, every image decodes, every local link answers, MathJax renders the math (also from file://),
search answers from file://, and screenshots land in build/test/book/ for a person to look at.

Chromium comes from the system's packages: when no browser is found, the set-up runs
``apt-get install -y chromium`` (root on Debian/Ubuntu); where that cannot work the tests skip
and say why.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from companion import paths

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    # the network is cut: every host name fails to resolve and every request goes to a dead proxy,
    # except the loopback server the probe uses
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)
SCREENSHOTS = paths.BUILD_DIR / "test" / "book"

# Loaded beside the book on the same origin: it opens a page in an iframe, waits for MathJax to finish
# typesetting, then reports what the browser made of it (image sizes after decoding, rendered and
# failed math, the HTTP status of every local link).
PROBE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="PAGE" style="width:1200px;height:900px"></iframe>
<script>
function typeset(win, doc) {
  return new Promise(resolve => {
    if (!doc.querySelector('script[src*="MathJax.js"]')) return resolve(false);
    const wait = () => (win.MathJax && win.MathJax.Hub) ? win.MathJax.Hub.Queue(() => resolve(true))
                                                        : setTimeout(wait, 100);
    wait();
  });
}
document.getElementById("page").addEventListener("load", async () => {
  const frame = document.getElementById("page");
  const doc = frame.contentDocument;
  const mathjax = await typeset(frame.contentWindow, doc);
  const math = {mathjax, rendered: doc.querySelectorAll(".MathJax, .MathJax_Display").length,
                errors: doc.querySelectorAll(".MathJax_Error, merror").length,
                raw: doc.querySelectorAll("span.math, div.math").length};
  const images = [...doc.images].map(img => ({src: img.getAttribute("src").slice(0, 80), complete: img.complete,
                                              width: img.naturalWidth}));
  const local = [...new Set([...doc.querySelectorAll("a[href]")].map(a => a.href)
                 .filter(href => href.startsWith(location.origin)).map(href => href.split("#")[0]))];
  const links = await Promise.all(local.map(async href => {
    try { return {href, status: (await fetch(href, {method: "HEAD"})).status}; }
    catch (error) { return {href, status: String(error)}; }
  }));
  document.getElementById("result").textContent = JSON.stringify({title: doc.title, images, links, math});
});
</script></body></html>"""


def _find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    browser = _find_browser()
    if browser is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(
                "no headless Chromium (/usr/bin/chromium missing) and no root apt-get to install it; "
                "install the 'chromium' package to run the browser test"
            )
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "chromium"]
        try:
            result = subprocess.run(install, env=environment, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:  # stale or missing package lists: refresh them once
                subprocess.run(["apt-get", "update"], env=environment, capture_output=True, timeout=300)
                result = subprocess.run(install, env=environment, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            pytest.skip("`apt-get install -y chromium` took too long; install it by hand to run the browser test")
        browser = _find_browser()
        if browser is None:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
            pytest.skip(
                f"no headless Chromium: `apt-get install -y chromium` failed (offline or no package lists?):\n{tail}"
            )
    return browser


def _run(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [browser, *FLAGS, f"--user-data-dir={profile}", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def served_book(built_book, tmp_path_factory):
    """The book and a probe page on one localhost origin (same origin, so the probe may look inside the page)."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(built_book.out, root / "book")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.func.log_message = lambda *args: None  # keep the test output quiet
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _probe(browser: str, served, page: str, tmp_path: Path) -> dict:
    root, origin = served
    probe = root / f"probe-{page.replace('/', '_')}"
    probe.write_text(PROBE.replace("PAGE", f"/book/{page}"))
    result = _run(browser, tmp_path / "profile", "--virtual-time-budget=15000", "--dump-dom", f"{origin}/{probe.name}")
    match = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert match and match.group(1) != "pending", f"the probe never reported on {page}:\n{result.stdout[-1500:]}"
    return json.loads(html.unescape(match.group(1)))


NOTEBOOK_PAGE = "notebooks/jcra/02_train_eval.html"  # math, an inline figure, folded cells


@pytest.mark.slow
@pytest.mark.parametrize("page", ["index.html", NOTEBOOK_PAGE])
def test_page_loads_with_every_figure_decoded_and_every_link_answering(chromium, served_book, page, tmp_path):
    report = _probe(chromium, served_book, page, tmp_path)
    assert report["images"] or page != NOTEBOOK_PAGE, f"{page} shows no image"
    not_loaded = [image for image in report["images"] if not image["complete"] or image["width"] == 0]
    assert not not_loaded, f"images that did not load in {page}: {not_loaded}"
    assert report["links"], f"{page} has no local link"
    failing = [link for link in report["links"] if link["status"] != 200]
    assert not failing, f"links of {page} that do not resolve: {failing}"
    if page == NOTEBOOK_PAGE:
        math = report["math"]
        assert math["mathjax"], "the notebook page loads the bundled MathJax"
        assert math["rendered"] >= 3 and math["errors"] == 0, f"math not rendered: {math}"


@pytest.mark.slow
def test_math_renders_from_file_url_with_the_network_cut(chromium, built_book, tmp_path):
    """MathJax 2 loads its parts and fonts from the book's own folder when opened from disk."""
    page = (built_book.out / NOTEBOOK_PAGE).as_uri()
    result = _run(chromium, tmp_path / "profile", "--virtual-time-budget=20000", "--dump-dom", page)
    dom = result.stdout
    assert 'class="MathJax_Display"' in dom or 'class="MathJax"' in dom, "MathJax did not typeset the page"
    assert 'class="MathJax_Error"' not in dom and "Math input error" not in dom


@pytest.mark.slow
@pytest.mark.parametrize("page, name", [("index.html", "index.png"), (NOTEBOOK_PAGE, "notebook.png")])
def test_screenshot_from_file_url(chromium, built_book, page, name, tmp_path):
    """Straight from disk (file://), as a reader opens it; the screenshot is kept under build/test/book/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    target.unlink(missing_ok=True)
    _run(
        chromium,
        tmp_path / "profile",
        "--window-size=1280,1600",
        "--virtual-time-budget=15000",
        f"--screenshot={target}",
        (built_book.out / page).as_uri(),
    )
    with Image.open(target) as image:
        assert image.size == (1280, 1600)
        low, high = image.convert("L").getextrema()
    assert high - low > 100, f"{target} is blank"


@pytest.mark.slow
def test_search_works_from_file_url_with_the_network_cut(chromium, built_book, tmp_path):
    page = (built_book.out / "search.html").as_uri() + "?q=scores"
    result = _run(chromium, tmp_path / "profile", "--virtual-time-budget=15000", "--dump-dom", page)
    hits = re.findall(r'<li class="kind-[a-z]+"><a href="([^"]+)"', result.stdout)
    assert "notebooks/jcra/02_train_eval.html" in hits, f"search found {hits}"
