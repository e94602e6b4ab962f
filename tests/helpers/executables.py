"""The console scripts the tests run (`chaos`, `gameday`, `lint-imports`), found one way.

The tests must run the scripts of the interpreter running pytest (the venv where this
checkout is installed), not whatever `chaos` is first on PATH: so look next to
`sys.executable` first (without resolving symlinks, which would leave the venv), then on
PATH, and say what to install when neither has it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["chaos_executable", "gameday_executable", "lint_imports_executable", "venv_executable"]


def venv_executable(name: str) -> str:
    """The path of console script `name` of this interpreter's environment."""
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise FileNotFoundError(
        f"no `{name}` next to {sys.executable} nor on PATH: run `pip install -e '.[test]'`"
    )


def chaos_executable() -> str:
    """The Chaos Toolkit CLI (`chaos run`, `chaos validate`, `chaos discover`)."""
    return venv_executable("chaos")


def gameday_executable() -> str:
    """Our `gameday` console script (the same code as `python -m gameday`)."""
    return venv_executable("gameday")


def lint_imports_executable() -> str:
    """import-linter's CLI, which checks the layering contracts in pyproject.toml."""
    return venv_executable("lint-imports")
