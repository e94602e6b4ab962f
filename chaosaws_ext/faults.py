"""Every fault declared once: what discovery, the undo registry, ``gameday plan`` and the
catalog of experiments are derived from.

A fault package holds ``planning.py`` (read-only plans), ``actions.py`` (inject and end
actions, named in experiment YAML), ``undo.py`` (undoers and the orphan finder),
``probes.py``, plus a module named for the AWS shape it touches, and declares itself in
its ``__init__.py`` as ``DECLARATION``. Module and function names are strings, so
reading a declaration imports nothing but the package's ``__init__``.

Undoer names (stored in ledgers) follow one rule: ``<fault id>.<verb>-<object>``
(``rds-failover.wait-available``); :meth:`FaultDeclaration.undoer_name` builds them and
``aliases`` keeps the names older ledgers hold resolving to the same function.

A fault may also *adopt* another extension's action that injects the same fault
(``chaosaws.rds.actions.reboot_db_instance`` with ``force_failover``): its ``adoption``
module then has ``plan_<name>`` (read only, the action's arguments) and ``adopt_<name>``
(guardrails, then the ledger entry, before the action runs), and the safety control
calls them around that action, so it is planned, guarded, ledgered, undone and timed
like ours.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

__all__ = [
    "FaultDeclaration",
    "FAULT_PACKAGES",
    "SUPPORT_DECLARATIONS",
    "LOCK_DECLARATION",
    "MARKERS_DECLARATION",
    "declarations",
    "fault_declarations",
    "action_modules",
    "probe_modules",
    "undo_modules",
    "plan_functions",
    "experiments",
    "default_experiments",
    "faults_used_by",
    "adopted_actions",
]

_VERB_OBJECT = re.compile(r"[a-z]+(-[a-z]+)+")


@dataclass(frozen=True)
class FaultDeclaration:
    """One fault (or one kind of resource we create for ourselves, without experiment).

    ``id`` is the ``chaos:fault`` tag value and the ledger entries' ``fault``;
    ``undoers`` maps ``<verb>-<object>`` to a function of the undo module; ``plans``
    maps an inject action (of the actions module) to its read-only plan function (of
    the planning module, same arguments); ``aliases`` maps an old undoer name to the
    ``<verb>-<object>`` it now is.
    """

    id: str
    package: str
    experiment: str | None = None
    actions: str | None = "actions"
    probes: str | None = "probes"
    planning: str | None = "planning"
    undo: str = "undo"
    plans: Mapping[str, str] = field(default_factory=dict)
    undoers: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    orphan_finder: str | None = None
    # other extensions' actions injecting this fault: "module.func" -> name, with
    # plan_<name> and adopt_<name> in the adoption module
    adopts: Mapping[str, str] = field(default_factory=dict)
    adoption: str = "adoption"
    # whether ``gameday run`` without names runs its experiment (the four original ones)
    default_run: bool = True

    def __post_init__(self) -> None:
        for name in ("plans", "undoers", "aliases", "adopts"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for verb_object in self.undoers:
            if not _VERB_OBJECT.fullmatch(verb_object):
                raise ValueError(f"{self.id}: undoer {verb_object!r} is not <verb>-<object>")
        for old, verb_object in self.aliases.items():
            if verb_object not in self.undoers:
                raise ValueError(f"{self.id}: alias {old!r} names no undoer {verb_object!r}")

    def module(self, relative: str) -> str:
        """The dotted path of one of the package's modules."""
        return f"{self.package}.{relative}"

    def undoer_name(self, verb_object: str) -> str:
        """The name ledgers store for one of this fault's undoers."""
        if verb_object not in self.undoers:
            raise KeyError(f"{self.id} declares no undoer {verb_object!r}")
        return f"{self.id}.{verb_object}"

    def names_for(self, verb_object: str) -> frozenset[str]:
        """The rule's name of one undoer and its aliases: what a ledger entry may hold."""
        old = {o for o, v in self.aliases.items() if v == verb_object}
        return frozenset({self.undoer_name(verb_object), *old})

    def undoer_names(self) -> dict[str, str]:
        """Every name a ledger may hold (the rule's and the aliases) -> function name."""
        names = {self.undoer_name(v): func for v, func in self.undoers.items()}
        names.update({old: self.undoers[v] for old, v in self.aliases.items()})
        return names


# The fault packages, in the order discovery and the catalog list them.
FAULT_PACKAGES = (
    "chaosaws_ext.blackhole",
    "chaosaws_ext.rds",
    "chaosaws_ext.healthcheck",
    "chaosaws_ext.dynamodb",
    "chaosaws_ext.s3replication",
    "chaosaws_ext.fis",
    "chaosaws_ext.rdsrestore",
    "chaosaws_ext.dynamodbrestore",
    "chaosaws_ext.dynamodbpause",
    "chaosaws_ext.ec2stop",
    "chaosaws_ext.dnsfailover",
)

# What we create for ourselves, outside any fault: undone and found by tag the same way.
LOCK_DECLARATION = FaultDeclaration(
    id="target-lock",
    package="chaosaws_ext",
    actions=None,
    probes=None,
    planning=None,
    undo="locking",
    undoers={"release-lock": "release_target_lock"},
    aliases={"lock.release": "release-lock"},
    orphan_finder="find_lock_items",
)
MARKERS_DECLARATION = FaultDeclaration(
    id="measurement-markers",
    package="chaosaws_ext.controls",
    actions=None,
    probes=None,
    planning=None,
    undo="measurement",
    undoers={"delete-markers": "delete_markers"},
    aliases={"measurement.delete-markers": "delete-markers"},
    orphan_finder="find_markers",
)
SUPPORT_DECLARATIONS = (LOCK_DECLARATION, MARKERS_DECLARATION)


def fault_declarations() -> tuple[FaultDeclaration, ...]:
    """The declaration of every fault package (imports only their ``__init__``)."""
    return tuple(importlib.import_module(p).DECLARATION for p in FAULT_PACKAGES)


def declarations() -> tuple[FaultDeclaration, ...]:
    """Faults and support declarations: everything with undoers."""
    return (*fault_declarations(), *SUPPORT_DECLARATIONS)


def action_modules() -> tuple[str, ...]:
    return tuple(d.module(d.actions) for d in fault_declarations() if d.actions)


def probe_modules() -> tuple[str, ...]:
    return tuple(d.module(d.probes) for d in fault_declarations() if d.probes)


def undo_modules() -> tuple[str, ...]:
    return tuple(d.module(d.undo) for d in declarations())


def plan_functions() -> dict[tuple[str, str], tuple[str, str]]:
    """(actions module, inject action) -> (planning module, plan function); adopted
    actions of other extensions too, planned by their adoption module."""
    functions = {
        (d.module(d.actions), action): (d.module(d.planning), plan)
        for d in fault_declarations()
        if d.actions and d.planning
        for action, plan in d.plans.items()
    }
    for (module, func), (declaration, name) in adopted_actions().items():
        functions[(module, func)] = (declaration.module(declaration.adoption), f"plan_{name}")
    return functions


@cache
def adopted_actions() -> dict[tuple[str, str], tuple[FaultDeclaration, str]]:
    """(module, func) of another extension's action -> (the fault adopting it, its name).
    Built once: the safety control asks before every activity."""
    adopted: dict[tuple[str, str], tuple[FaultDeclaration, str]] = {}
    for declaration in fault_declarations():
        for action, name in declaration.adopts.items():
            module, _, func = action.rpartition(".")
            adopted[(module, func)] = (declaration, name)
    return adopted


# chaostoolkit-aws's mutating modules: chaosaws.ec2.actions, chaosaws.rds.actions, ...
CHAOSTOOLKIT_AWS_ACTIONS = re.compile(r"^chaosaws(\.[a-z0-9_]+)*\.actions$")


def changes_aws(activity: Mapping[str, object]) -> bool:
    """An action that changes AWS: one of our fault actions, or a chaostoolkit-aws action
    (adopted or not)."""
    if activity.get("type") != "action":
        return False
    provider = activity.get("provider")
    module = str(provider.get("module") or "") if isinstance(provider, dict) else ""
    return module in action_modules() or bool(CHAOSTOOLKIT_AWS_ACTIONS.match(module))


def background_fault_steps(experiment: Mapping[str, object]) -> list[Mapping[str, object]]:
    """The method's actions that change AWS and run in the background (``background:
    true``): injected concurrently, each joined before the next step in the foreground
    (the safety control)."""
    method = experiment.get("method")
    return [
        activity
        for activity in (method if isinstance(method, list) else [])
        if isinstance(activity, dict) and activity.get("background") and changes_aws(activity)
    ]


def experiments() -> tuple[str, ...]:
    """The shipped experiments, one per fault that has one."""
    return tuple(d.experiment for d in fault_declarations() if d.experiment)


def default_experiments() -> tuple[str, ...]:
    """What ``gameday run`` runs when given no names."""
    return tuple(d.experiment for d in fault_declarations() if d.experiment and d.default_run)


def _provider_modules(value: object) -> list[str]:
    """Every ``provider.module`` named anywhere in an experiment document."""
    found: list[str] = []
    if isinstance(value, dict):
        provider = value.get("provider")
        if isinstance(provider, dict) and isinstance(provider.get("module"), str):
            found.append(provider["module"])
        for item in value.values():
            found.extend(_provider_modules(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_provider_modules(item))
    return found


def faults_used_by(experiment: Mapping[str, object]) -> frozenset[str]:
    """The ids of the faults an experiment's activities and controls come from: what a
    recovery by tag for that experiment has to search (no more, so a fault it never
    uses cannot make the search look incomplete)."""
    modules = _provider_modules(dict(experiment))
    return frozenset(
        d.id
        for d in fault_declarations()
        if any(m == d.package or m.startswith(d.package + ".") for m in modules)
    )
