"""An AWS FIS experiment under our measurement (fault ``fis-experiment``).

FIS injects and reverts; we start it from a template id (or a template file we create,
tagged, and delete after), ledger it first (undo: ``StopExperiment``, which makes FIS
revert its actions), stamp t0 from its actions' start times, and bring its state and
stop conditions into the journal, so the measured RTO/RPO and verdicts come exactly as
for our own faults. ``planning.py`` plans (read only), ``actions.py`` starts and ends,
``undo.py`` stops experiments and deletes templates (ledger and by tag), ``probes.py``
waits for the end, ``experiments.py`` holds FIS's shapes (template files, states).
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "fis-experiment"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="fis-az-disrupt-connectivity",
    default_run=False,
    plans={"start_experiment": "plan_experiment_start"},
    undoers={
        "stop-experiment": "stop_experiment_undo",
        "delete-template": "delete_template_undo",
    },
    orphan_finder="find_fis_leftovers",
)
