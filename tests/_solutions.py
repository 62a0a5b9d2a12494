"""The reference solutions as the tests use them: read from ``solutions/NN_topic.py``, never copied.

A unit's reference is every top-level function or class of its solution's py:percent twin that holds
a ``# BEGIN SOLUTION`` marker (``tools.make_exercises``'s: the code the exercise replaces by a stub),
defined as the notebook defines it, together with what it uses there: the notebook's other
definitions, its imports and its literal constants. Nothing else of the notebook runs (no data, no
training, no figure); a definition that uses a name the notebook binds by running code is an error
that names both (a name bound nowhere is a NameError when it runs, as in the notebook).

- ``solution(1).pca``: the reference ``pca`` (one module per unit, loaded once);
- ``planted(1, "pca", ("xc = x - mean", "xc = x")).pca``: a fresh copy of the solution with one
  planted mistake; each ``(old, new)`` replaces text that occurs exactly once in the definition
  (``"PyroVAE.guide"``: in that method), and :data:`STUB` replaces its solution by the exercise's
  stub, as ``make exercises`` writes it. The other definitions of the copy use the planted one.
- ``student(1, pca=wrong_pca).ppca_mle``: a fresh copy of the solution whose functions find
  ``wrong_pca`` as ``pca``, as in a notebook where the student's ``pca`` is wrong;
- ``lecture(1, "ppca_posterior").ppca_posterior``: definitions of the lecture, read the same way from
  ``lectures/NN_topic.py``.
"""
from __future__ import annotations

import ast
import builtins
import functools
import itertools
import symtable
import types
from pathlib import Path

from tools.make_exercises import BEGIN, strip_solution

ROOT = Path(__file__).resolve().parent.parent


class _Stub:
    def __repr__(self) -> str:
        return "STUB"


STUB = _Stub()   #: an edit: the definition's solution replaced by the exercise's stub


class Definitions(types.ModuleType):
    """The definitions loaded from one notebook, as attributes."""

    def __getattr__(self, name: str):
        raise AttributeError(f"{self.__name__} does not define `{name}` "
                             f"(loaded: {', '.join(self.__all__)})")


class Notebook:
    """A notebook's py:percent twin, read as its top-level bindings (nothing of it runs here)."""

    def __init__(self, path: Path):
        self.path = path
        self.name = f"{path.parent.name}/{path.name}"
        self.text = path.read_text(encoding="utf-8")
        self.lines = self.text.splitlines(keepends=True)
        self.bindings: dict[str, tuple[str, int, str]] = {}    # name: (kind, line, source)
        for node in ast.parse(self.text, filename=str(path)).body:
            self._bind(node)

    def _bind(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start, end = _span(node, self.lines)
            self.bindings[node.name] = ("definition", start, "".join(self.lines[start - 1:end]))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                one = (ast.Import(names=[alias]) if isinstance(node, ast.Import)
                       else ast.ImportFrom(module=node.module, names=[alias], level=node.level))
                bound = alias.asname or alias.name.partition(".")[0]
                self.bindings[bound] = ("import", node.lineno, ast.unparse(one))
        else:                # an assignment: a literal constant, or code that runs
            kind = "constant" if isinstance(node, (ast.Assign, ast.AnnAssign)) and _literal(node) else "code"
            for name in ast.walk(node):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                    self.bindings[name.id] = (kind, node.lineno, ast.get_source_segment(self.text, node))

    @functools.cached_property
    def marked(self) -> tuple[str, ...]:
        """The definitions that hold a ``# BEGIN SOLUTION`` marker, in the notebook's order."""
        return tuple(name for name, (kind, _, source) in self.bindings.items()
                     if kind == "definition" and any(BEGIN.match(line) for line in source.splitlines()))

    def source(self, name: str) -> str:
        kind, _, source = self.bindings.get(name, (None, 0, ""))
        if kind != "definition":
            raise LookupError(f"{self.name} defines no top-level function or class `{name}`")
        return source

    def load(self, names, edited: tuple[str, str] | None = None) -> Definitions:
        """A new module holding the definitions ``names`` and what they use; ``edited``: (name,
        source), one definition's source replaced."""
        replaced = dict([edited] if edited else [])
        sources = {name: replaced.get(name) or self.source(name) for name in names}
        pending = list(sources)
        while pending:
            name = pending.pop()
            for used in sorted(_globals_used(sources[name], name, self.name) - set(sources)):
                kind, line, source = self.bindings.get(used, (None, 0, ""))
                if kind is None:     # unbound: a NameError when it runs, as in the notebook
                    continue
                if kind == "code":
                    raise NameError(f"{self.name}: `{name}` uses `{used}`, which line {line} binds by "
                                    f"running code; the tests load only definitions, imports and constants")
                sources[used] = replaced.get(used) or source
                if kind == "definition":
                    pending.append(used)
        if set(replaced) - set(sources):
            raise ValueError(f"{self.name}: the edited `{edited[0]}` is not among what {names} use")
        module = Definitions(self.name + (f" with {edited[0]} edited" if edited else ""))
        module.__all__ = list(names)
        if edited:   # the notebook's text as edited, for tracebacks and is_stub(): see _run
            module.__loader__ = _Text(self.edited_text(*edited))
        order = {kind: i for i, kind in enumerate(("import", "constant", "definition"))}
        for name in sorted(sources, key=lambda n: (order[self.bindings[n][0]], self.bindings[n][1])):
            self._run(module, name, sources[name], edited=name in replaced)
        return module

    def edited_text(self, name: str, source: str) -> str:
        """The notebook's text with the definition ``name`` replaced by ``source``."""
        _, line, old = self.bindings[name]
        return "".join(self.lines[:line - 1]) + source + "".join(self.lines[line - 1 + len(old.splitlines()):])

    def _run(self, module: Definitions, name: str, source: str, edited: bool) -> None:
        """Run one definition, import or constant in ``module``, its lines numbered as in the
        notebook. An edited definition gets a file name of its own, which no file has: linecache
        then asks the module's __loader__ for the edited text (however often its cache is cleared)."""
        _, line, _ = self.bindings[name]
        filename = f"{self.path} (edited, {next(_EDITS)})" if edited else str(self.path)
        tree = ast.increment_lineno(ast.parse(source, filename), line - 1)
        exec(compile(tree, filename, "exec"), module.__dict__)


class _Text:
    """A module loader that has nothing to load but the text of its module's source."""

    def __init__(self, text: str):
        self.text = text

    def get_source(self, fullname: str) -> str:
        return self.text


_EDITS = itertools.count(1)


def _literal(node: ast.Assign | ast.AnnAssign) -> bool:
    """True for ``NAME = <a literal>``: a constant the tests may define."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return all(isinstance(target, ast.Name) for target in targets)


def _span(node: ast.stmt, lines: list[str]) -> tuple[int, int]:
    """The first and last line of a definition: its decorators, and the comments indented under its
    last line (``# END SOLUTION``), included."""
    first, last = min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno
    while (last < len(lines) and lines[last].lstrip().startswith("#")
           and len(lines[last]) - len(lines[last].lstrip()) > node.col_offset):
        last += 1
    return first, last


def _globals_used(source: str, name: str, where: str) -> set[str]:
    """The module-level names that ``source`` (the definition ``name``) reads, builtins aside."""
    top = symtable.symtable(source, f"<{where}: {name}>", "exec")
    used = {s.get_name() for s in top.get_symbols() if s.is_referenced()}   # decorators, bases, defaults

    def inner(table: symtable.SymbolTable) -> None:
        for child in table.get_children():
            used.update(s.get_name() for s in child.get_symbols()
                        if s.is_global() and s.is_referenced())
            inner(child)

    inner(top)
    return {n for n in used if n != name and not hasattr(builtins, n)}


@functools.cache
def notebook(folder: str, unit: int) -> Notebook:
    """The py:percent twin of unit ``unit``'s notebook in ``folder`` (solutions, lectures)."""
    paths = sorted((ROOT / folder).glob(f"{unit:02d}_*.py"))
    if len(paths) != 1:
        raise LookupError(f"expected one {folder}/{unit:02d}_*.py, found {[p.name for p in paths]}")
    return Notebook(paths[0])


@functools.cache
def solution(unit: int) -> Definitions:
    """Unit ``unit``'s reference: its solution's definitions that hold a BEGIN SOLUTION marker."""
    return notebook("solutions", unit).load(notebook("solutions", unit).marked)


def marked(unit: int) -> tuple[str, ...]:
    """The names of the definitions the exercise of unit ``unit`` asks the student to write."""
    return notebook("solutions", unit).marked


def student(unit: int, **overrides) -> Definitions:
    """A fresh copy of the reference in which ``overrides`` replace definitions of the same names."""
    module = notebook("solutions", unit).load(marked(unit))
    for name, value in overrides.items():
        setattr(module, name, value)
    return module


def planted(unit: int, target: str, *edits) -> Definitions:
    """A fresh copy of the reference with ``edits`` applied to the definition ``target``
    (``"Class.method"``: to that method only); see the module's docstring."""
    nb = notebook("solutions", unit)
    name, _, method = target.partition(".")
    source = nb.source(name)
    start, end = 0, len(source)
    if method:
        node = next((n for n in ast.parse(source).body[0].body
                     if isinstance(n, ast.FunctionDef) and n.name == method), None)
        if node is None:
            raise LookupError(f"{nb.name}: `{name}` has no method `{method}`")
        lines = source.splitlines(keepends=True)
        first, last = _span(node, lines)
        start, end = len("".join(lines[:first - 1])), len("".join(lines[:last]))
    part = source[start:end]
    for edit in edits:
        if edit is STUB:
            stub = strip_solution(part, f"{nb.name}: {target}") + ("\n" if part.endswith("\n") else "")
            if stub == part:
                raise ValueError(f"{nb.name}: `{target}` holds no BEGIN SOLUTION marker to stub")
            part = stub
            continue
        old, new = edit
        if part.count(old) != 1:
            raise ValueError(f"{nb.name}: {old!r} occurs {part.count(old)} times in `{target}`, not once")
        part = part.replace(old, new)
    return nb.load(marked(unit), edited=(name, source[:start] + part + source[end:]))


@functools.cache
def lecture(unit: int, *names: str) -> Definitions:
    """The definitions ``names`` of unit ``unit``'s lecture, with what they use there."""
    return notebook("lectures", unit).load(names)


def altered(fn, change):
    """``fn`` with its result passed through ``change`` (a tuple's parts as its arguments): a
    mistake made after the reference's own work, e.g. ``altered(pca, lambda W, lam, mu: (W, -lam, mu))``."""
    def mistaken(*args, **kwargs):
        out = fn(*args, **kwargs)
        return change(*out) if isinstance(out, tuple) else change(out)
    mistaken.__name__ = getattr(fn, "__name__", "mistaken")
    return mistaken
