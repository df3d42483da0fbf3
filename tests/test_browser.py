"""The built website, as a reader's browser shows it: headless Chromium loads every page.

It checks what no HTML parser can: that MathJax (served by the site itself, no CDN)
turned every formula into rendered math, that every image loaded, that no page raised a
JavaScript error, that the launch buttons point at the right Colab URLs, that the search
page finds a chapter, and that the exercise solutions start collapsed. Screenshots of a
few pages are kept in ``_build/screenshots/`` for CI's artifacts (never committed).

Needs the ``playwright`` package (in requirements.txt) and a Chromium binary: Debian's
``chromium`` package, which ``.ci/run`` installs when it is missing, or the one named by
``$GENTEXT_CHROMIUM``. Without a browser the tests skip and say why.
"""

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
ZH = ROOT / "locale" / "zh_CN"  # the Chinese book (its own _toc.yml)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
sys.path.insert(0, str(ROOT / "book"))
from build import find_chromium  # noqa: E402
from diagrams import all_diagrams  # noqa: E402

DIAGRAMS = {f"notebooks/{chapter}.html": diagrams for chapter, diagrams in all_diagrams().items()}
# Chromium as root in a closed network: no sandbox, and no background connections that
# this machine's network would refuse (see the env notes of this workplace).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return find_chromium()


def toc_pages(book: Path = ROOT) -> list[str]:
    """The pages of a book's table of contents (the English one, or the Chinese one's folder)."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f"{f}.html" for f in files]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                   "(pip install -r requirements.txt)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found: install Debian's chromium package (apt-get install chromium) "
                    "or set GENTEXT_CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def open_page(browser, url):
    """Load a page; return it with the JavaScript errors and failed local requests it had."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, failed = [], []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("requestfailed", lambda req: failed.append(req.url) if req.url.startswith(url.split("/")[0] + "//" + url.split("/")[2]) else None)
    page.goto(url, wait_until="load")
    # MathJax typesets asynchronously: on pages that load it (those with math), wait until
    # it says it is done
    if page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
    return page, errors, failed


def test_mathjax_is_served_by_the_site_itself(site):
    html = (site / "notebooks" / "08_diffusion.html").read_text()
    assert "cdn.jsdelivr.net/npm/mathjax" not in html and "mathjax/tex-chtml.js" in html
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def check_rendered(page, label: str, errors: list, failed: list) -> str:
    """What every page of either edition must show: no JavaScript error, no failed request to
    the site, no raw TeX, rendered math where there are formulas, every image loaded. Returns
    the visible text of the page's main part."""
    assert not errors, f"{label}: JavaScript errors {errors}"
    assert not failed, f"{label}: requests to the site itself failed: {failed}"
    text = page.inner_text("main")
    for raw in ("\\(", "\\)", "$$", "\\["):
        assert raw not in text, f"{label}: raw TeX {raw!r} left in the visible text"
    if "notebooks/" in label or "book/notation" in label:
        assert page.locator("mjx-container").count() > 0, f"{label}: no rendered math"
    broken = page.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(0, 80))""")
    assert not broken, f"{label}: images that did not load: {broken}"
    return text


@pytest.mark.parametrize("page_path", toc_pages())
def test_page_renders(browser, server, page_path):
    page, errors, failed = open_page(browser, f"{server}/{page_path}")
    try:
        check_rendered(page, page_path, errors, failed)
        if page_path.startswith("notebooks/"):
            repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
            stem = page_path.removesuffix(".html")
            colab = f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['repository']['branch']}/{stem}.ipynb"
            hrefs = page.eval_on_selector_all("a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
            assert colab in hrefs, f"{page_path}: no launch button to {colab} (found {hrefs})"
            # the solutions start collapsed: their code is in the page but not visible
            solutions = page.locator("div.cell.tag_hide-cell")
            assert solutions.count() >= 2, f"{page_path}: solutions not found"
            for i in range(solutions.count()):
                code = solutions.nth(i).locator(".cell_input pre, .cell_input code").first
                assert not code.is_visible(), f"{page_path}: solution {i + 1} is open"
        if page_path in DIAGRAMS:
            check_diagrams(page, page_path)
        if page_path.startswith("notebooks/"):
            # every line of code stays within the column (long lines wrap, none is cut off)
            cut = page.evaluate("""() => Array.from(document.querySelectorAll('div.cell_input pre'))
                .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.slice(0, 60))""")
            assert not cut, f"{page_path}: code lines run past the column: {cut}"
            # the settings cell (the profile table) starts collapsed on the site
            settings = page.locator("div.cell", has_text="gt.setup(").first
            assert not settings.locator(".cell_input pre").first.is_visible(), (
                f"{page_path}: the settings cell is open")
        if page_path in ("book/preface.html", "notebooks/02_vae.html", "notebooks/08_diffusion.html"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / page_path.replace("/", "_").replace(".html", ".png")),
                            full_page=False)
    finally:
        page.close()


def check_diagrams(page, page_path):
    """Each diagram of the chapter is on the page, loaded, with its alt text; save a
    screenshot of each as the site shows it."""
    shots = SCREENSHOTS / "diagrams"
    shots.mkdir(parents=True, exist_ok=True)
    for diagram in DIAGRAMS[page_path]:
        img = page.locator(f'img[alt="{diagram.alt}"]')
        assert img.count() == 1, f"{page_path}: diagram {diagram.name} is not on the page"
        assert img.evaluate("el => el.complete && el.naturalWidth > 0"), f"{diagram.name} did not load"
        box = img.bounding_box()
        main = page.locator("main").bounding_box()
        assert box["width"] > 300 and box["x"] + box["width"] <= main["x"] + main["width"] + 1, (
            f"{diagram.name}: {box} does not fit the column {main}")
        img.scroll_into_view_if_needed()
        img.screenshot(path=str(shots / f"{diagram.name}.png"))


@pytest.mark.parametrize("page_path", sorted(DIAGRAMS))
def test_diagrams_show_in_a_chapter_opened_alone(browser, tmp_path, page_path):
    """Colab opens one notebook from GitHub, with no files beside it: the diagrams must be
    inside the notebook. Render the chapter alone, in an empty folder, and load it."""
    nbconvert = pytest.importorskip("nbconvert")
    notebook = ROOT / page_path.replace(".html", ".ipynb")
    copy = tmp_path / notebook.name
    shutil.copy(notebook, copy)
    html, _ = nbconvert.HTMLExporter(template_name="basic").from_filename(str(copy))
    (tmp_path / "alone.html").write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto((tmp_path / "alone.html").as_uri(), wait_until="load")
        for diagram in DIAGRAMS[page_path]:
            img = page.locator(f'img[alt="{diagram.alt}"]')
            assert img.count() == 1, f"{diagram.name} is missing from the notebook alone"
            assert img.evaluate("el => el.complete && el.naturalWidth > 0"), f"{diagram.name} did not load"
    finally:
        page.close()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server over a folder holding the chapters with diagrams, each alone."""
    import json
    import socket
    import subprocess
    import time

    pytest.importorskip("jupyterlab")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    work, settings = tmp / "work", tmp / "settings" / "@jupyterlab" / "notebook-extension"
    work.mkdir()
    settings.mkdir(parents=True)
    # render every cell, not only those in view, so the check sees all of them
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    for page_path in DIAGRAMS:
        shutil.copy(ROOT / page_path.replace(".html", ".ipynb"), work)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTER_CONFIG_DIR=str(tmp / "config"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--allow-root",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):  # wait for the server
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("page_path", sorted(DIAGRAMS))
def test_diagrams_show_in_jupyterlab(browser, jupyterlab, page_path):
    """JupyterLab renders markdown through its own sanitizer: open the chapter in a real
    JupyterLab and check that every diagram is rendered and loaded."""
    name = Path(page_path).with_suffix(".ipynb").name
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{jupyterlab}/lab/tree/{name}", wait_until="load")
        page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", timeout=90000, state="attached")
        shots = SCREENSHOTS / "jupyterlab"
        shots.mkdir(parents=True, exist_ok=True)
        for diagram in DIAGRAMS[page_path]:
            img = page.locator(f'.jp-Notebook img[alt="{diagram.alt}"]')
            img.first.wait_for(state="attached", timeout=30000)
            assert img.first.evaluate("el => el.complete && el.naturalWidth > 0"), (
                f"{diagram.name} did not load in JupyterLab")
            img.first.scroll_into_view_if_needed()
            img.first.screenshot(path=str(shots / f"{diagram.name}.png"))
    finally:
        page.close()


def search_finds(browser, url: str, page_name: str, screenshot: Path) -> None:
    """The site's search page, given a query in its URL, lists the page `page_name`."""
    page, errors, _ = open_page(browser, url)
    try:
        page.wait_for_selector("#search-results ul li a, ul.search li a", timeout=20000)
        links = page.eval_on_selector_all("#search-results a, ul.search a", "els => els.map(e => e.href)")
        assert any(page_name in href for href in links), f"{url} found {links}"
        assert not errors, errors
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    finally:
        page.close()


def test_search_finds_a_chapter(browser, server):
    search_finds(browser, f"{server}/search.html?q=diffusion", "08_diffusion", SCREENSHOTS / "search.png")


# --- the Chinese edition ----------------------------------------------------------------------


@pytest.mark.parametrize("page_path", toc_pages(ZH))
def test_chinese_page_renders(browser, server, page_path):
    page, errors, failed = open_page(browser, f"{server}/zh/{page_path}")
    try:
        text = check_rendered(page, f"zh/{page_path}", errors, failed)
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        chinese = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
        if page_path == "book/references.html":  # the bibliography itself stays as published
            assert "参考文献" in text
        else:
            assert chinese > 50, f"zh/{page_path}: only {chinese} Chinese characters on the page"
        if page_path.startswith("notebooks/"):
            en_page = browser.new_page()
            try:
                en_page.goto(f"{server}/{page_path}", wait_until="load")
                assert page.locator("main img").count() == en_page.locator("main img").count(), (
                    f"zh/{page_path}: not the English page's figures")
            finally:
                en_page.close()
        if page_path in ("book/preface.html", "book/glossary.html", "notebooks/02_vae.html",
                         "notebooks/08_diffusion.html"):
            shots = SCREENSHOTS / "zh"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / page_path.replace("/", "_").replace(".html", ".png")))
    finally:
        page.close()


def test_the_language_switch_goes_both_ways(browser, server):
    page, errors, _ = open_page(browser, f"{server}/notebooks/02_vae.html")
    try:
        page.click("a.gentext-language")
        page.wait_for_load_state("load")
        assert page.url.endswith("/zh/notebooks/02_vae.html")
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert "变分自编码器" in page.inner_text("main")
        page.click("a.gentext-language")
        page.wait_for_load_state("load")
        assert page.url.endswith("/notebooks/02_vae.html") and "/zh/" not in page.url
        assert not errors, errors
    finally:
        page.close()


def test_chinese_search_finds_a_chinese_term(browser, server):
    search_finds(browser, f"{server}/zh/search.html?q=扩散模型", "08_diffusion",
                 SCREENSHOTS / "zh" / "search.png")
