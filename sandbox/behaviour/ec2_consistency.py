"""Moved: the old import path, kept working (re-exports `sandbox.ec2.consistency`)."""

from sandbox.ec2.consistency import *  # noqa: F403
from sandbox.ec2.consistency import __all__  # noqa: F401
