"""Secret masking for reports: the core's one rule (``chaosaws_ext.redaction``) applied
to journals before anything is rendered, so nothing secret reaches a report, JUnit file
or metric label.

Chaos Toolkit journals are not redacted on disk when the safety control did not run
(inline secrets appear verbatim; dynamic configuration copies resolved secrets into
``provider.secrets``): ``mask_journals`` returns masked deep copies, with the secret
values pooled across the journals of one report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaosaws_ext.core.redaction import (
    CUT_MARK,
    MASK,
    MAX_TEXT,
    collect_secret_values,
    is_sensitive_key,
    mask_journal,
    mask_text,
    secret_values_from_var_files,
)
from reports.journal import Journal, as_journals

__all__ = [
    "CUT_MARK",
    "MASK",
    "MAX_TEXT",
    "collect_secret_values",
    "is_sensitive_key",
    "mask_journal",
    "mask_journals",
    "mask_text",
    "secret_values_from_var_files",
]


def mask_journals(
    journals: Iterable[Journal | dict[str, Any]],
    *,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[Journal]:
    """Masked copies of journals (``Journal`` objects or bare dicts), same order.

    Secret values are pooled: a value one journal reveals (say, a token resolved by
    dynamic configuration) is masked in every journal of the same report.
    """
    items = as_journals(journals)
    pooled: set[str] = {v for v in extra_secret_values if isinstance(v, str) and v}
    for journal in items:
        pooled.update(collect_secret_values(journal.data, environ=environ))
    return [
        Journal(
            source=j.source,
            data=mask_journal(j.data, extra_secret_values=pooled, environ=environ),
        )
        for j in items
    ]
