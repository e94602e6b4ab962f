"""The ``gameday`` command: run, plan, recover, report and the sandbox."""
