"""tools.make_exercises: stubs replace solutions, tags become exercise tags, and a student's edit
in any twin (.ipynb, .md or .py) is never lost: it is kept, or backed up under --force."""
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from tools import make_exercises as mk

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_CELL = """def square(x):
    \"\"\"Return x squared.\"\"\"
    # BEGIN SOLUTION
    y = x * x
    return y
    # END SOLUTION
"""
STUB_LINE = 'raise NotImplementedError("exercise: write this part")'


def _backup_name(suffix):
    """The pattern of a backup's name: ``99_demo.backup-YYYYmmdd-HHMMSS<suffix>.bak``."""
    return rf"99_demo\.backup-\d{{8}}-\d{{6}}{re.escape(suffix)}\.bak"


def _solution_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Exercise"),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
        nbformat.v4.new_code_cell("square(3)", metadata={"tags": ["depends-on-solution",
                                                                    "nbval-check-output"]}),
        nbformat.v4.new_markdown_cell("Discussion of the answer", metadata={"tags": ["solution-only"]}),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "9"})]
    nb.cells[2].execution_count = 1
    (tmp_path / "solutions").mkdir()
    path = tmp_path / "solutions" / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


def _use_root(monkeypatch, root):
    monkeypatch.setattr(mk, "ROOT", root)
    monkeypatch.setattr(mk, "SOLUTIONS", root / "solutions")
    monkeypatch.setattr(mk, "EXERCISES", root / "exercises")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A one-solution course in tmp_path; returns the solution's path."""
    _use_root(monkeypatch, tmp_path)
    return _solution_notebook(tmp_path)


@pytest.fixture
def generated(repo):
    """The demo exercise as the generator wrote it: (notebook, markdown twin); the py:percent
    twin is ``script`` beside them."""
    mk.write_exercise(repo)
    folder = repo.parent.parent / "exercises"
    return folder / "99_demo.ipynb", folder / "99_demo.md"


@pytest.fixture
def script(generated):
    """The demo exercise's py:percent twin, as the generator wrote it."""
    return generated[0].with_suffix(".py")


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A copy of the committed solutions/ and exercises/ in tmp_path."""
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.bak"))
    _use_root(monkeypatch, tmp_path)
    return tmp_path


def _change_solution(solution):
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source = "# Exercise, revised"
    nbformat.write(nb, solution)


def _edit_notebook(notebook, answer):
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace(STUB_LINE, f"return x ** 2  # {answer}")
    nbformat.write(nb, notebook)


def _edit_markdown(markdown, answer):
    """Replace the stub by an answer in a text twin (.md or .py), as in a text editor."""
    text = markdown.read_text(encoding="utf-8")
    assert STUB_LINE in text
    markdown.write_text(text.replace(STUB_LINE, f"return x ** 2  # {answer}"), encoding="utf-8")


_edit_script = _edit_markdown


def _backups(folder):
    return sorted(p.name for p in folder.glob("*.bak"))


def test_solution_block_becomes_a_stub_with_the_same_indentation():
    out = mk.strip_solution(SOLUTION_CELL)
    assert "x * x" not in out
    assert '    raise NotImplementedError("exercise: write this part")' in out
    assert out.startswith("def square(x):")


@pytest.mark.parametrize("source, problem", [
    ("# BEGIN SOLUTION\nx = 1\n", "without a matching END"),
    ("x = 1\n# END SOLUTION\n", "without a matching BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "nested"),
])
def test_unbalanced_markers_are_an_error_naming_the_cell(source, problem):
    with pytest.raises(ValueError, match=problem):
        mk.strip_solution(source, "demo cell 3")


def test_exercise_drops_solution_only_cells_and_outputs(repo):
    nb = mk.make_exercise(repo)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_cells_calling_stubs_are_tagged_to_raise_and_lose_output_checks(repo):
    nb = mk.make_exercise(repo)
    assert nb.cells[2].metadata["tags"] == ["raises-exception"]


def test_written_exercise_is_up_to_date_and_has_a_markdown_twin(repo):
    assert not mk.is_up_to_date(repo)
    mk.write_exercise(repo)
    assert mk.is_up_to_date(repo)
    assert (repo.parent.parent / "exercises" / "99_demo.md").exists()


def test_written_exercise_has_a_py_percent_twin_with_the_same_cells(repo):
    mk.write_exercise(repo)
    script = repo.parent.parent / "exercises" / "99_demo.py"
    assert script.read_text(encoding="utf-8").count("# %%") == 3
    assert mk.cells_digest(jupytext.read(script)) == mk.make_exercise(repo).metadata[
        "lvm_course"]["cells_sha256"]


def test_a_missing_py_twin_makes_the_exercise_stale_and_is_rewritten(repo, script):
    script.unlink()
    assert not mk.is_up_to_date(repo)
    assert mk.write_exercise(repo).startswith("wrote") and script.exists()


def test_changed_solution_makes_the_exercise_stale(repo, generated):
    _change_solution(repo)
    assert not mk.is_up_to_date(repo)


def test_an_unedited_stale_exercise_is_regenerated(repo, generated):
    notebook, markdown = generated
    _change_solution(repo)
    assert mk.write_exercise(repo) == "wrote exercises/99_demo.ipynb and its .md and .py twins"
    assert nbformat.read(notebook, as_version=4).cells[0].source == "# Exercise, revised"
    assert "# Exercise, revised" in markdown.read_text(encoding="utf-8")
    assert "# # Exercise, revised" in notebook.with_suffix(".py").read_text(encoding="utf-8")
    assert _backups(notebook.parent) == []


def test_an_edit_in_the_markdown_twin_is_detected_and_kept(repo, generated):
    notebook, markdown = generated
    _edit_markdown(markdown, "my answer")
    _change_solution(repo)
    message = mk.write_exercise(repo)
    assert message.startswith("kept exercises/99_demo.md:") and "--force" in message
    assert "my answer" in markdown.read_text(encoding="utf-8")
    assert nbformat.read(notebook, as_version=4).cells[0].source == "# Exercise"  # pair untouched


def test_an_edit_in_the_py_twin_is_detected_and_kept(repo, generated, script):
    notebook, markdown = generated
    _edit_script(script, "my answer")
    _change_solution(repo)
    message = mk.write_exercise(repo)
    assert message.startswith("kept exercises/99_demo.py:") and "--force" in message
    assert "my answer" in script.read_text(encoding="utf-8")
    assert nbformat.read(notebook, as_version=4).cells[0].source == "# Exercise"  # triple untouched
    assert "# Exercise, revised" not in markdown.read_text(encoding="utf-8")


def test_an_edit_in_the_notebook_is_detected_and_kept(repo, generated):
    notebook, markdown = generated
    _edit_notebook(notebook, "my answer")
    _change_solution(repo)
    message = mk.write_exercise(repo)
    assert message.startswith("kept exercises/99_demo.ipynb:") and "--force" in message
    assert "my answer" in nbformat.read(notebook, as_version=4).cells[1].source
    assert "# Exercise, revised" not in markdown.read_text(encoding="utf-8")


def test_an_edited_exercise_whose_solution_is_unchanged_is_kept_with_nothing_to_do(repo, generated):
    notebook, markdown = generated
    _edit_markdown(markdown, "my answer")
    message = mk.write_exercise(repo)
    assert message.startswith("kept exercises/99_demo.md:") and "nothing to do" in message
    assert "my answer" in markdown.read_text(encoding="utf-8")


def test_an_unreadable_twin_counts_as_edited_and_is_kept(repo, generated):
    notebook, _ = generated
    notebook.write_text("{ half-saved", encoding="utf-8")
    _change_solution(repo)
    assert mk.write_exercise(repo).startswith("kept exercises/99_demo.ipynb")
    assert notebook.read_text(encoding="utf-8") == "{ half-saved"


def test_running_cells_is_not_an_edit(repo, generated, capsys):
    notebook, _ = generated
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran")]
    nb.cells[1].execution_count = 1
    nb.metadata["language_info"] = {"name": "python", "version": "3.12.1"}
    nbformat.write(nb, notebook)
    assert mk.main(["--check"]) == 0
    assert capsys.readouterr().out.strip() == "up to date: exercises/99_demo.ipynb"
    _change_solution(repo)
    assert mk.write_exercise(repo).startswith("wrote")
    assert _backups(notebook.parent) == []


def test_an_up_to_date_exercise_is_left_alone_outputs_included(repo, generated):
    notebook, _ = generated
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="a long run")]
    nbformat.write(nb, notebook)
    assert mk.write_exercise(repo) == "up to date: exercises/99_demo.ipynb"
    assert nbformat.read(notebook, as_version=4).cells[1].outputs[0].text == "a long run"


def test_force_backs_up_both_twins_and_names_the_backups(repo, generated, capsys):
    notebook, markdown = generated
    _edit_notebook(notebook, "answer in the notebook")
    _edit_markdown(markdown, "answer in the markdown")
    _change_solution(repo)
    assert mk.main(["--force"]) == 0
    out = capsys.readouterr().out
    saved = {}
    for twin, suffix in ((notebook, ".ipynb"), (markdown, ".md")):
        found = re.search(rf"overwrote exercises/{twin.name} \(your version saved as "
                          rf"exercises/({_backup_name(suffix)})\)", out)
        assert found, f"no backup named for {twin.name} in:\n{out}"
        saved[suffix] = (notebook.parent / found.group(1)).read_text(encoding="utf-8")
    assert "answer in the notebook" in saved[".ipynb"]
    assert "answer in the markdown" in saved[".md"]
    assert "wrote exercises/99_demo.ipynb and its .md and .py twins" in out
    assert mk.is_up_to_date(repo)


def test_force_backs_up_an_edited_py_twin_and_names_the_backup(repo, generated, script):
    _edit_script(script, "answer in the script")
    _change_solution(repo)
    message = mk.write_exercise(repo, force=True)
    found = re.search(rf"overwrote exercises/99_demo\.py \(your version saved as "
                      rf"exercises/({_backup_name('.py')})\)", message)
    assert found and message.count("overwrote") == 1, message
    assert "answer in the script" in (script.parent / found.group(1)).read_text(encoding="utf-8")
    assert "answer in the script" not in script.read_text(encoding="utf-8")
    assert mk.is_up_to_date(repo)


def test_force_backs_up_only_the_edited_twin(repo, generated):
    notebook, markdown = generated
    _edit_markdown(markdown, "my answer")
    _change_solution(repo)
    message = mk.write_exercise(repo, force=True)
    assert message.count("overwrote") == 1 and "overwrote exercises/99_demo.md" in message
    assert [re.fullmatch(_backup_name(".md"), b) is not None
            for b in _backups(notebook.parent)] == [True]


def test_backups_taken_in_the_same_second_do_not_overwrite_each_other(generated):
    _, markdown = generated
    first = mk.back_up(markdown, "20250101-120000")
    second = mk.back_up(markdown, "20250101-120000")
    assert first != second and first.exists() and second.exists()
    assert second.name == "99_demo.backup-20250101-120000-2.md.bak"


def test_a_backup_is_not_treated_as_a_notebook_pair(repo, generated, script, capsys):
    notebook, markdown = generated
    _edit_notebook(notebook, "my answer")
    _edit_markdown(markdown, "my answer")
    _edit_script(script, "my answer")
    mk.write_exercise(repo, force=True)
    folder = notebook.parent
    assert len(_backups(folder)) == 3
    # the globs of the generator, tests/test_notebook_files.py, `make sync`, tools/site and tools/slides
    for pattern, twin in (("*.ipynb", notebook), ("[0-9]*.ipynb", notebook), ("*.md", markdown),
                          ("*.py", script), ("[0-9]*.py", script)):
        assert list(folder.glob(pattern)) == [twin], pattern
    # jupytext pairs only notebook extensions; a backup's is `.bak`
    assert all(Path(b).suffix not in jupytext.formats.NOTEBOOK_EXTENSIONS for b in _backups(folder))
    capsys.readouterr()
    assert mk.main(["--check"]) == 0


def test_check_reports_an_edited_py_twin(repo, script, capsys):
    _edit_script(script, "my answer")
    assert mk.main(["--check"]) == 1
    assert capsys.readouterr().out.strip() == "EDITED: exercises/99_demo.py"


def test_check_reports_an_edited_twin(repo, generated, capsys):
    _, markdown = generated
    _edit_markdown(markdown, "my answer")
    assert mk.main(["--check"]) == 1
    assert capsys.readouterr().out.strip() == "EDITED: exercises/99_demo.md"


def test_check_mode_fails_on_a_stale_exercise(repo, capsys):
    assert mk.main(["--check"]) == 1
    assert "STALE" in capsys.readouterr().out
    mk.main([])
    assert mk.main(["--check"]) == 0


def test_the_committed_exercises_are_up_to_date_and_left_byte_for_byte_alone(course, capsys):
    before = {p: p.read_bytes() for p in (course / "exercises").iterdir()}
    assert mk.main([]) == 0
    assert capsys.readouterr().out.count("up to date: exercises/") == len(before) // 3
    assert {p: p.read_bytes() for p in (course / "exercises").iterdir()} == before


def test_a_markdown_edit_of_a_committed_exercise_survives_check_and_make_exercises(course, capsys):
    markdown = course / "exercises" / "01_lvm_pca.md"
    markdown.write_text(markdown.read_text(encoding="utf-8").replace(
        STUB_LINE, "return torch.zeros(1)  # my answer", 1), encoding="utf-8")
    assert mk.main(["--check"]) == 1
    assert "EDITED: exercises/01_lvm_pca.md" in capsys.readouterr().out
    mk.main([])
    assert "kept exercises/01_lvm_pca.md" in capsys.readouterr().out
    assert "my answer" in markdown.read_text(encoding="utf-8")


def test_a_py_edit_of_a_committed_exercise_survives_check_and_make_exercises(course, capsys):
    script = course / "exercises" / "01_lvm_pca.py"
    script.write_text(script.read_text(encoding="utf-8").replace(
        STUB_LINE, "return torch.zeros(1)  # my answer", 1), encoding="utf-8")
    assert mk.main(["--check"]) == 1
    assert "EDITED: exercises/01_lvm_pca.py" in capsys.readouterr().out
    mk.main([])
    assert "kept exercises/01_lvm_pca.py" in capsys.readouterr().out
    assert "my answer" in script.read_text(encoding="utf-8")
