"""Every third-party import is installed by the right requirements file, pinned exactly.

The server's code (chat/, project/) must run on requirements.txt alone (what `make run`
installs); the tests and benchmarks on requirements-dev.txt. A package counts as installed
when it is pinned there or required, directly or through others, by a pinned one.
"""

import ast
import importlib.metadata as metadata
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCAL = {"chat", "project", "tests", "bench", "manage"}


def pinned(filename: str) -> dict[str, Requirement]:
    """The requirements of a file and of the files it includes with -r."""
    found = {}
    for raw in (ROOT / filename).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found.update(pinned(line[3:].strip()))
            continue
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def installed_with(names) -> set[str]:
    """The distributions that installing `names` brings: them and their dependencies."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue  # an optional extra, or another platform's dependency
            todo.append(canonicalize_name(requirement.name))
    return seen


def third_party_imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module name -> files importing it, for absolute imports outside the stdlib."""
    modules: dict[str, set[str]] = {}
    for folder in folders:
        path = ROOT / folder
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in LOCAL:
                        modules.setdefault(top, set()).add(str(file.relative_to(ROOT)))
    return modules


def uncovered(modules: dict[str, set[str]], requirements_file: str) -> list[str]:
    covered = installed_with(pinned(requirements_file))
    providers = metadata.packages_distributions()
    missing = []
    for module, files in sorted(modules.items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & covered:
            missing.append(f"{module} (from {sorted(dists) or 'no installed package'}) in {sorted(files)[:3]}")
    return missing


@pytest.mark.parametrize("filename", ["requirements.txt", "requirements-dev.txt", "requirements-embeddings.txt"])
def test_every_requirement_is_pinned_exactly(filename):
    for name, requirement in pinned(filename).items():
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{filename}: {name} is not pinned with =="


def test_the_server_code_needs_only_the_runtime_requirements():
    modules = third_party_imports("chat", "project", "manage.py")
    assert "django" in modules and "openai" in modules  # the walk sees the code
    assert uncovered(modules, "requirements.txt") == []


def test_the_runtime_requirements_hold_no_test_tools():
    runtime = installed_with(pinned("requirements.txt"))
    for tool in ("pytest", "pytest-django", "playwright", "hypothesis", "ruff"):
        assert tool not in runtime, f"{tool} belongs in requirements-dev.txt"


def test_the_tests_and_benchmarks_need_only_the_dev_requirements():
    modules = third_party_imports("tests", "bench")
    assert "pytest" in modules and "playwright" in modules
    assert uncovered(modules, "requirements-dev.txt") == []
    lines = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "-r requirements.txt"
