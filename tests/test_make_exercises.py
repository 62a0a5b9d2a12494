"""tools.make_exercises: stubs replace solutions, tags become exercise tags, edits are kept."""
import nbformat
import pytest

from tools import make_exercises as mk

SOLUTION_CELL = """def square(x):
    \"\"\"Return x squared.\"\"\"
    # BEGIN SOLUTION
    y = x * x
    return y
    # END SOLUTION
"""


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


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setattr(mk, "ROOT", tmp_path)
    monkeypatch.setattr(mk, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(mk, "EXERCISES", tmp_path / "exercises")
    return _solution_notebook(tmp_path)


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


def test_changed_solution_makes_the_exercise_stale(repo):
    mk.write_exercise(repo)
    nb = nbformat.read(repo, as_version=4)
    nb.cells[0].source = "# Exercise, revised"
    nbformat.write(nb, repo)
    assert not mk.is_up_to_date(repo)


def test_student_edits_are_never_overwritten_without_force(repo):
    mk.write_exercise(repo)
    target = repo.parent.parent / "exercises" / repo.name
    nb = nbformat.read(target, as_version=4)
    nb.cells[1].source = "def square(x):\n    return x ** 2  # my answer"
    nbformat.write(nb, target)
    message = mk.write_exercise(repo)
    assert message.startswith("skipped") and "--force" in message
    assert "my answer" in nbformat.read(target, as_version=4).cells[1].source
    mk.write_exercise(repo, force=True)
    assert "my answer" not in nbformat.read(target, as_version=4).cells[1].source


def test_running_an_exercise_does_not_count_as_editing_it(repo):
    mk.write_exercise(repo)
    target = repo.parent.parent / "exercises" / repo.name
    nb = nbformat.read(target, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran")]
    nbformat.write(nb, target)
    assert mk.write_exercise(repo).startswith("wrote")


def test_check_mode_fails_on_a_stale_exercise(repo, capsys):
    assert mk.main(["--check"]) == 1
    assert "STALE" in capsys.readouterr().out
    mk.main([])
    assert mk.main(["--check"]) == 0
