"""The framework of a cycle, parsed once per process, and its leaf criteria."""

from __future__ import annotations

from sqlmodel import Session, select

from core.errors import NotFound
from models.framework import Framework, Node
from models.tables import Cycle, FrameworkRecord

__all__ = ["framework_and_hash", "framework_for", "leaf"]


# Published frameworks are immutable: (id, spec_hash) names one parsed tree for the process.
_FRAMEWORKS: dict[tuple[int, str], Framework] = {}
_FRAMEWORKS_MAX = 32


_SEEN = "appraisal_framework_hashes"  # Session.info: framework id → spec hash read by it


def framework_and_hash(session: Session, cycle: Cycle) -> tuple[Framework, str]:
    """The cycle's parsed framework and its spec hash (one query on a cache hit, none the
    second time in the same session: a cycle's framework is published, so immutable)."""
    seen: dict[int, str] = session.info.setdefault(_SEEN, {})
    known = seen.get(cycle.framework_id)
    if known is not None and (cycle.framework_id, known) in _FRAMEWORKS:
        return _FRAMEWORKS[(cycle.framework_id, known)], known
    spec_hash = session.exec(
        select(FrameworkRecord.spec_hash).where(FrameworkRecord.id == cycle.framework_id)
    ).first()
    if spec_hash is None:
        raise NotFound(
            "framework_missing",
            f"Không tìm thấy bộ tiêu chí của kỳ đánh giá {cycle.id}.",
            f"The framework of cycle {cycle.id} is missing.",
        )
    key = (cycle.framework_id, spec_hash)
    cached = _FRAMEWORKS.get(key)
    if cached is None:
        record = session.get(FrameworkRecord, cycle.framework_id)
        assert record is not None
        cached = Framework.model_validate(record.spec)
        if len(_FRAMEWORKS) >= _FRAMEWORKS_MAX:
            _FRAMEWORKS.pop(next(iter(_FRAMEWORKS)))
        _FRAMEWORKS[key] = cached
    seen[cycle.framework_id] = spec_hash
    return cached, spec_hash


def framework_for(session: Session, cycle: Cycle) -> Framework:
    """The (published, immutable) framework of a cycle, parsed once per process.

    Only the hash is read on a cache hit: the spec JSON is loaded and parsed once.
    """
    return framework_and_hash(session, cycle)[0]


def leaf(framework: Framework, code: str) -> Node:
    """The leaf criterion ``code`` of the framework, or ``NotFound``."""
    try:
        node = framework.node(code)
    except KeyError:
        node = None
    if node is None or not node.is_leaf:
        raise NotFound(
            "unknown_criterion",
            f"Không có tiêu chí {code} để chấm điểm trong bộ tiêu chí.",
            f"There is no leaf criterion {code} in the framework.",
        )
    return node
