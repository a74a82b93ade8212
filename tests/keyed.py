"""Test helper: a keyed signature event written straight to a store, as the workflow would sign it."""

from __future__ import annotations

import datetime as dt

from rubric_kernel import keyring
from rubric_kernel.records import Event, RubricRef
from rubric_kernel.signing import SigningKey, demo_key, sheet_content, signature_payload
from rubric_kernel.store import Store

RUBRIC = RubricRef("sc-2023", "a" * 64)


def keyed_signature(
    store: Store, dataset: str, institution: int, signer: str, sheet_digest: str, key: SigningKey | None = None
) -> Event:
    """Sign with ``key`` (default: the signer's demo key, registered first if it is not yet)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if key is None:
        key = demo_key(signer)
        keyring.ensure_demo(store, signer, now.date() - dt.timedelta(days=1))
    content = sheet_content(
        dataset=dataset,
        institution=institution,
        stage="现场评估",
        sheet="group",
        sheet_digest=sheet_digest,
        rubric_id=RUBRIC.id,
        rubric_digest=RUBRIC.digest,
        at=now.isoformat(),
        signer=signer,
    )
    return store.add_event(
        dataset,
        institution,
        "signature",
        actor=signer,
        payload=signature_payload(key, content),
        rubric=RUBRIC,
        now=now,
    )
