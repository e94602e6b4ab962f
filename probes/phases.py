"""Phase stamps now live in the core layer's timeline (:mod:`chaosaws_ext.core.timeline`),
beside the fault stamps they are measured against; kept so old imports work."""

from chaosaws_ext.core.timeline import (
    PhaseStamp,
    clear_phases,
    fault_details,
    mark_phase,
    note_fault_detail,
    phase_stamps,
    wall_now,
)

__all__ = [
    "PhaseStamp",
    "mark_phase",
    "phase_stamps",
    "clear_phases",
    "wall_now",
    "note_fault_detail",
    "fault_details",
]
