"""FIS experiment and action states, with the reasons the sandbox reports.

The values are the API's: experiment ``pending | initiating | running | completed |
stopping | stopped | failed | cancelled`` (ExperimentState,
https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentState.html) and action
``pending | initiating | running | completed | cancelled | stopping | stopped | failed |
skipped`` (ExperimentActionState,
https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentActionState.html).
Their meaning is the user guide's "Experiment states" and "Action states" (AWS FIS user
guide, "View your experiments",
https://docs.aws.amazon.com/fis/latest/userguide/view-experiment-progress.html): an
experiment is ``initiating`` while FIS prepares it (resolves targets), ``running`` while
actions run, ``completed`` when every action completed, ``stopping`` then ``stopped`` after
a StopExperiment or a stop condition, ``failed`` when it could not run (no target, an
action that failed). An action is ``pending`` until its ``startAfter`` actions end,
``cancelled`` when the experiment ended before it started, ``skipped`` when its targets
resolved to nothing and emptyTargetResolutionMode is ``skip``.
"""

from __future__ import annotations

__all__ = [
    "ACTION_CANCELLED",
    "ACTION_COMPLETED",
    "ACTION_FAILED",
    "ACTION_INITIATING",
    "ACTION_PENDING",
    "ACTION_RUNNING",
    "ACTION_SKIPPED",
    "ACTION_STOPPED",
    "ACTION_STOPPING",
    "COMPLETED",
    "FAILED",
    "FINAL_ACTION_STATES",
    "FINAL_STATES",
    "INITIATING",
    "PENDING",
    "REASONS",
    "RUNNING",
    "STOPPED",
    "STOPPING",
]

PENDING = "pending"
INITIATING = "initiating"
RUNNING = "running"
COMPLETED = "completed"
STOPPING = "stopping"
STOPPED = "stopped"
FAILED = "failed"
FINAL_STATES = frozenset({COMPLETED, STOPPED, FAILED})

ACTION_PENDING = "pending"
ACTION_INITIATING = "initiating"
ACTION_RUNNING = "running"
ACTION_COMPLETED = "completed"
ACTION_STOPPING = "stopping"
ACTION_STOPPED = "stopped"
ACTION_FAILED = "failed"
ACTION_CANCELLED = "cancelled"
ACTION_SKIPPED = "skipped"
FINAL_ACTION_STATES = frozenset(
    {ACTION_COMPLETED, ACTION_STOPPED, ACTION_FAILED, ACTION_CANCELLED, ACTION_SKIPPED}
)

# the default reason of each state (a stop, a failure or a skip says more)
REASONS = {
    PENDING: "Experiment is pending.",
    INITIATING: "Experiment is initiating.",
    RUNNING: "Experiment is running.",
    COMPLETED: "Experiment completed.",
    STOPPING: "Experiment is stopping.",
    STOPPED: "Experiment stopped.",
    FAILED: "Experiment failed.",
}
ACTION_REASONS = {
    ACTION_PENDING: "Initial state",
    ACTION_INITIATING: "Action is initiating.",
    ACTION_RUNNING: "Action is running.",
    ACTION_COMPLETED: "Action was completed.",
    ACTION_STOPPING: "Action is stopping.",
    ACTION_STOPPED: "Action was stopped.",
    ACTION_CANCELLED: "Action was cancelled: the experiment ended before it started.",
}
