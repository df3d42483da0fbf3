"""Build the published book: the English site, the Chinese site beside it, and a PDF of each.

    python book/build.py                 # everything: _build/html (English), _build/html/zh
                                         # (Chinese), _build/html/pdf/gentext.pdf and
                                         # _build/html/zh/pdf/gentext-zh.pdf (the PDFs where
                                         # Chromium and a CJK font are installed)
    python book/build.py --no-pdf        # the two websites only
    python book/build.py pdf             # the PDFs only (from the sites' single-page builds)
    python book/build.py en | zh         # one edition's website

Both websites are built with warnings as errors (-W -n). The Chinese book's sources are the
files under ``locale/zh_CN`` that ``book/i18n.py build`` generates from the English and the
translation catalogues (committed, so that Colab can open the Chinese notebooks); this script
builds what is there, and the tests check that it is complete and in sync.

The PDFs: Jupyter Book's single-page HTML of each edition, printed by Chromium (Debian's
``chromium`` package, or the binary in ``$GENTEXT_CHROMIUM``) through Playwright, after MathJax
has typeset every formula. The Chinese PDF needs a CJK font (Debian's ``fonts-noto-cjk``).
Why not LaTeX: the book's notebooks print tables and HTML that LaTeX handles badly, and
Jupyter Book's LaTeX class needs 1.4 GB of TeX fonts; the printed site is the site, with the
same math, figures and tables.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ZH_SOURCE = ROOT / "locale" / "zh_CN"
PDFS = {"en": Path("pdf") / "gentext.pdf", "zh": Path("zh") / "pdf" / "gentext-zh.pdf"}  # in the site
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def jupyter_book(source: Path, output: Path | None, builder: str = "html") -> None:
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           str(source), "-W", "-n", "--keep-going", "--builder", builder]
    if output is not None:
        cmd += ["--path-output", str(output)]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-6000:])
        sys.stderr.write(result.stderr[-6000:])
        raise SystemExit(f"the {builder} build of {source.relative_to(ROOT) or '.'} failed")
    print(f"built {builder} of {source.relative_to(ROOT) or '.'} in {time.perf_counter() - started:.0f} s")


def build_en(output: Path = ROOT) -> Path:
    """The English site, in ``output/_build/html``; returns that folder."""
    jupyter_book(ROOT, None if output == ROOT else output)
    return output / "_build" / "html"


def build_zh(output: Path = ROOT) -> Path:
    """The Chinese site, built in ``output/_build/zh`` and placed at ``output/_build/html/zh``."""
    if not (ZH_SOURCE / "_config.yml").exists():
        raise SystemExit("locale/zh_CN has no _config.yml: run `python book/i18n.py build` first")
    work = output / "_build" / "zh"
    jupyter_book(ZH_SOURCE, work)
    target = output / "_build" / "html" / "zh"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(work / "_build" / "html", target)
    return target


def find_chromium() -> str | None:
    for candidate in (os.environ.get("GENTEXT_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def chromium() -> str:
    found = find_chromium()
    if found:
        return found
    raise SystemExit("no Chromium to print the PDF with: install Debian's chromium package "
                     "(apt-get install chromium fonts-noto-cjk) or set GENTEXT_CHROMIUM")


# Printing: only the book's text, no site furniture; figures and code blocks not split.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer,
.bd-footer-article, .prev-next-area, .bd-search, .header-article-items, .gentext-editions,
.skip-link, #pst-back-to-top, .sidebar-toggle, .theme-switch-button, .search-button,
.headerlink, .copybtn, .bd-footer-content { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-page-width, .bd-container,
.bd-container__inner { max-width: 100% !important; width: 100% !important; padding: 0 !important;
  margin: 0 !important; }
body { font-size: 10.5pt; }
img, figure, table, mjx-container[display="true"] { break-inside: avoid; }
/* long code cells and admonitions may continue on the next page (the themes keep them whole,
   which leaves an empty box behind when one is longer than what is left of a page) */
div.highlight, div[class*=highlight-], div.literal-block-wrapper, pre {
  break-inside: auto !important; display: block !important; overflow: visible !important; }
div.cell, div.cell_input, div.cell_output, .admonition, div.admonition, details {
  break-inside: auto !important; }
/* cells the site collapses (the settings, the solutions) stay collapsed: one grey line */
details.hide > summary { font-size: 8pt; color: #777; }
#jb-print-docs-body { display: none !important; }
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
article > section, div.toctree-wrapper > section { break-before: page; }
.gentext-cover { height: 230mm; display: flex; flex-direction: column; justify-content: center; }
.gentext-cover .gentext-title { font-size: 28pt; font-weight: 700; margin-bottom: 8mm; }
.gentext-cover p { font-size: 13pt; color: #444; }
.gentext-contents { break-before: page; }
.gentext-contents li { font-size: 12pt; margin: 2mm 0; }
h1, h2, h3 { break-after: avoid; }
div.cell_input pre, .output pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 8pt; }
"""


def single_page(site: Path) -> str:
    """The single-page build's one page, moved to the site's root where its links point.

    Jupyter Book writes it under the root document's name (``book/preface.html``) with links
    made for the root (``_static/...``), so it is copied up next to ``_static``."""
    redirect = (site / "index.html").read_text()
    name = redirect.split("url=", 1)[1].split('"', 1)[0]
    (site / "book.html").write_bytes((site / name).read_bytes())
    return "book.html"


# Every image loaded (lazy ones too) before printing.
LOAD_IMAGES_JS = """async () => {
  const images = [...document.images];
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
}"""

# What the printed page holds: formulas (and any MathJax left untypeset), images, chapters.
REPORT_JS = """() => {
  const math = [...document.querySelectorAll('span.math, div.math')];
  const images = [...document.images];
  return {
    formulas: math.length,
    untypeset: math.filter(m => !m.querySelector('mjx-container')).length,
    images: images.length,
    broken_images: images.filter(i => !i.complete || i.naturalWidth === 0).length,
    chapters: [...document.querySelectorAll('article > section, div.toctree-wrapper > section')]
      .map(s => s.querySelector('h1, h2').textContent.replace(/#$/, '').trim()),
  };
}"""

# A cover and a list of contents (each chapter's title, linked) before the first page.
COVER_JS = """(t) => {
  const main = document.querySelector('main') || document.body;
  const article = main.querySelector('article') || main;
  const chapters = [...article.querySelectorAll(':scope > section, div.toctree-wrapper > section')];
  const cover = document.createElement('div');
  cover.className = 'gentext-cover';
  cover.innerHTML = `<div class="gentext-title"></div><p class="sub"></p><p class="built"></p>`;
  cover.querySelector('.gentext-title').textContent = t.title;
  cover.querySelector('.sub').textContent = t.subtitle;
  cover.querySelector('.built').textContent = t.built;
  const contents = document.createElement('div');
  contents.className = 'gentext-contents';
  const heading = document.createElement('h2');
  heading.textContent = t.contents;
  const list = document.createElement('ol');
  for (const h of chapters) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '#' + h.id;
    a.textContent = h.querySelector('h1, h2').textContent.replace(/#$/, '').trim();
    li.appendChild(a); list.appendChild(li);
  }
  contents.append(heading, list);
  article.prepend(cover, contents);
}"""


def cover_texts(language: str) -> dict[str, str]:
    import yaml

    config = yaml.safe_load(((ROOT if language == "en" else ZH_SOURCE) / "_config.yml").read_text())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    day = time.strftime("%Y-%m-%d")
    if language == "en":
        return {"title": config["title"], "contents": "Contents",
                "subtitle": "An executable textbook: every chapter trains its models on real data.",
                "built": f"Printed from the website on {day} (commit {commit}). "
                         "The notebooks: https://github.com/gentext-book/gentext"}
    return {"title": config["title"], "contents": "目录",
            "subtitle": "一本可以运行的教科书：每一章都在真实数据上训练它的模型。",
            "built": f"由网站于 {day} 打印（提交 {commit}）。笔记本：https://github.com/gentext-book/gentext"}


def print_pdf(site: Path, out: Path, language: str) -> None:
    """Print a single-page build to PDF once MathJax has typeset it."""
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/{single_page(site)}",
                      wait_until="load", timeout=300_000)
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=120_000)
            page.evaluate("() => MathJax.startup.promise.then(() => MathJax.typesetPromise ? MathJax.typesetPromise() : null)")
            page.evaluate(LOAD_IMAGES_JS)
            report = page.evaluate(REPORT_JS)
            if report["untypeset"] or report["broken_images"]:
                raise SystemExit(f"not ready to print {out.name}: {report}")
            page.add_style_tag(content=PRINT_CSS)
            page.evaluate(COVER_JS, cover_texts(language))
            left = "gentext" if language == "en" else "gentext 中文版"
            footer = (f"<div lang='{'en' if language == 'en' else 'zh-CN'}' "
                      "style='font-size:8px;width:100%;text-align:center;color:#666'>"
                      f"{left} · <span class='pageNumber'></span> / <span class='totalPages'></span></div>")
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".pdf.tmp")
            page.pdf(path=str(tmp), format="A4", print_background=True, display_header_footer=True,
                     header_template="<div></div>", footer_template=footer,
                     margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
            tmp.replace(out)
            browser.close()
        report["seconds"] = round(time.perf_counter() - started, 1)
        out.with_name(out.name + ".json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    finally:
        server.shutdown()
    print(f"printed {out} ({out.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - started:.0f} s")


def cjk_font() -> str | None:
    """A font with Chinese glyphs, as fontconfig finds it (None when there is none)."""
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    except OSError:
        return None
    return found.splitlines()[0] if found.strip() else None


def build_pdfs(editions: list[str], output: Path = ROOT) -> dict[str, Path]:
    """Each edition's PDF, printed from its single-page build and placed in the site."""
    if "zh" in editions and cjk_font() is None:
        raise SystemExit("no Chinese font for the Chinese PDF: install Debian's fonts-noto-cjk "
                         "(apt-get install fonts-noto-cjk)")
    pdfs = {}
    for edition in editions:
        source = ROOT if edition == "en" else ZH_SOURCE
        work = output / "_build" / f"singlehtml-{edition}"
        jupyter_book(source, work, builder="singlehtml")
        pdfs[edition] = output / "_build" / "html" / PDFS[edition]
        print_pdf(work / "_build" / "singlehtml", pdfs[edition], edition)
    return pdfs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "en", "zh", "pdf"])
    parser.add_argument("--no-pdf", action="store_true", help="the websites only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.what in ("all", "en"):
        build_en()
    if args.what in ("all", "zh"):
        build_zh()
    if args.what == "pdf":
        build_pdfs(["en", "zh"])
    elif args.what == "all" and not args.no_pdf:
        missing = [name for name, found in [("chromium", find_chromium()), ("fonts-noto-cjk", cjk_font())]
                   if not found]
        if missing:
            print(f"the PDFs were not printed: this machine lacks {' and '.join(missing)} "
                  f"(Debian: apt-get install {' '.join(missing)}; then `python book/build.py pdf`)")
        else:
            build_pdfs(["en", "zh"])
    print(f"done in {time.perf_counter() - started:.0f} s: open {SITE / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
