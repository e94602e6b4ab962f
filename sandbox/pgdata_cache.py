"""A cached PostgreSQL data directory, initialised once per machine and copied per run.

``initdb`` takes seconds; copying its result takes a fraction of one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sandbox.rds.postgres import cache_dir, import_pgserver

__all__ = ["copy_pgdata", "pgdata_template"]


def pgdata_template(backend_class: Any) -> Path:
    """A freshly initialised, cleanly stopped data directory, made once per machine.

    ``initdb`` takes seconds; copying its result takes a fraction of one. The template
    never holds data: it is initialised, started once and stopped, then published by
    an atomic rename (several processes may race to make it; the first one wins).
    """
    pgserver = import_pgserver()
    version = getattr(pgserver, "__version__", "0")
    template = cache_dir() / f"pgdata-{version}"
    if (template / "PG_VERSION").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pgdata-", dir=template.parent)) / "pgdata"
    server = backend_class(staging)
    server.start()
    server.stop()
    try:
        os.rename(staging, template)
    except OSError:  # another process published it first
        pass
    shutil.rmtree(staging.parent, ignore_errors=True)
    return template


_NOT_COPIED = ("postmaster.pid", "postmaster.opts", ".handle_pids.json")


def copy_pgdata(template: Path, target: Path) -> None:
    """Copy the template keeping modes and owners (pgserver runs PostgreSQL as an
    unprivileged user when started by root): ``cp -a``, else a Python copy + chown."""
    cp = shutil.which("cp")
    if cp is not None:
        subprocess.run([cp, "-a", str(template), str(target)], check=True, timeout=60)
    else:
        shutil.copytree(template, target, symlinks=True)
        if os.geteuid() == 0:
            for source_dir, _dirs, files in os.walk(template):
                relative = Path(source_dir).relative_to(template)
                for name in [".", *files]:
                    stat = (Path(source_dir) / name).stat()
                    os.chown(target / relative / name, stat.st_uid, stat.st_gid)
    for name in _NOT_COPIED:
        (target / name).unlink(missing_ok=True)
    for stale in target.glob(".s.PGSQL.*"):
        stale.unlink(missing_ok=True)
