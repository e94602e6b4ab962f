"""AWS FIS executed by the sandbox (moto stores templates and experiments, runs nothing).

:mod:`sandbox.fis.moto_patch` (:class:`FisEmulator`) hands each started experiment to
:mod:`sandbox.fis.executor`, which resolves targets (:mod:`sandbox.fis.targets`), runs
the actions of :mod:`sandbox.fis.actions` in ``startAfter`` order for their ISO 8601
durations (:mod:`sandbox.fis.durations`, scaled by the time scale), watches stop-condition
alarms (:mod:`sandbox.fis.stop_conditions`) and reports FIS's states
(:mod:`sandbox.fis.states`). This package is "AWS": it imports nothing of ours.
"""

from sandbox.fis.moto_patch import FisEmulator

__all__ = ["FisEmulator"]
