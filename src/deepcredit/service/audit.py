"""The append-only, hash-chained access log, and the check that it was not changed.

Each row's mac = HMAC-SHA256(chain key, canonical JSON of (seq, at, actor, action, subject, details,
prev_mac)), and prev_mac is the previous row's mac (64 zeros for the first). Changing, inserting or
deleting any row breaks every mac after it; the chain key is derived from the pseudonym key (environment
only), so someone who can write the database but not read the service's environment cannot re-forge the
chain. Deleting rows from the end is caught against `audit_head` and, for a determined database
administrator, against an anchor (seq, mac) recorded elsewhere from `deepcredit audit-verify`.

Before each append the head row (the one `audit_head` names) is checked: it exists, its mac is the recorded
one and verifies over its contents. One row, read by its key, so appending stays cheap; a head that fails is
never built upon (AuditChainBroken, naming its seq only), since a new row's prev_mac would otherwise vouch for
a forged row. A change further back is `verify`'s to find.

Rows carry pseudonyms and ids only: `details` must never hold a person id, a name or free text a person
wrote (a dispute's reason is stored with the dispute, not here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, exists, insert, inspect, or_, select, update
from sqlalchemy.orm import Session

from deepcredit.service.store.models import AuditEntry, AuditHead, Merchant, Score

GENESIS = "0" * 64
log = logging.getLogger("deepcredit.service")


class AuditChainBroken(RuntimeError):
    """The audit log's head row does not verify: nothing is appended on top of it until an operator has
    looked (`deepcredit audit-verify`). The message names the row's seq, never its contents."""


def canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def row_mac(key: bytes, seq: int, at: datetime, actor: str, action: str, subject: str | None, details: str,
            prev_mac: str) -> str:
    body = canonical([seq, _stamp(at), actor, action, subject, details, prev_mac])
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()


_HEAD = select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1).with_for_update()
_HEAD_ROW = select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.subject,
                   AuditEntry.details, AuditEntry.prev_mac, AuditEntry.mac).where(AuditEntry.seq == bindparam("seq"))
_ANY_ROW = select(AuditEntry.seq).limit(1)
_HEADS = cast(Table, AuditHead.__table__)
_INSERT_ENTRY = insert(cast(Table, AuditEntry.__table__))
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.id == 1).values(
    seq=bindparam("new_seq"), mac=bindparam("new_mac"))
"""Statements built once: every request appends (building one costs SQLAlchemy about 1 ms of CPU)."""


class AuditLog:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def append(self, session: Session, at: datetime, actor: str, action: str, subject: str | None = None,
               **details: object) -> int:
        """Add one row in the caller's transaction (which must hold the write lock: see store.db); its seq.

        Plain SQL statements (no ORM unit of work): this runs on every request, decisions included.
        """
        head = session.execute(_HEAD).first()
        if head is None:
            if session.execute(_ANY_ROW).first() is not None:
                raise self._broken(0, "the log has rows but no recorded head (audit_head was removed)")
            session.execute(insert(AuditHead).values(id=1, seq=0, mac=GENESIS))
            prev_seq, prev_mac = 0, GENESIS
        else:
            prev_seq, prev_mac = head
            self._check_head(session, prev_seq, prev_mac)
        text = canonical(details)
        seq = prev_seq + 1
        mac = row_mac(self.key, seq, at, actor, action, subject, text, prev_mac)
        session.execute(_INSERT_ENTRY, {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject,
                                        "details": text, "prev_mac": prev_mac, "mac": mac})
        session.execute(_MOVE_HEAD, {"new_seq": seq, "new_mac": mac})
        return seq

    def _check_head(self, session: Session, seq: int, mac: str) -> None:
        fault = self._head_fault(session, seq, mac)
        if fault is not None:
            raise self._broken(seq, fault)

    def _head_fault(self, session: Session, seq: int, mac: str) -> str | None:
        """Why the head row, as audit_head names it, does not verify (None: it exists, its mac is the recorded
        one and matches its contents; one row by its key, the rows before it are verify's to check)."""
        if seq == 0:  # an empty log: nothing to check but that it is one (a first append, once)
            if mac != GENESIS or session.execute(_ANY_ROW).first() is not None:
                return ("the recorded head says the log is empty, and the log has rows or the head's mac is not "
                        "the chain's start")
            return None
        row = session.execute(_HEAD_ROW, {"seq": seq}).first()
        if row is None:
            return "the row the recorded head names is missing"
        if not hmac.compare_digest(row.mac, mac):
            return "its mac differs from the recorded head's"
        if not hmac.compare_digest(row.mac, row_mac(self.key, row.seq, row.at, row.actor, row.action, row.subject,
                                                    row.details, row.prev_mac)):
            return "its mac does not match the row's contents (the row was changed)"
        return None

    def head_intact(self, session: Session) -> bool:
        """Whether the next append would be built on this head (health's check: the same one-row check, not
        logged, since a health probe asks often; `verify` is what finds where and why)."""
        head = session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
        if head is None:
            return session.execute(_ANY_ROW).first() is None
        return self._head_fault(session, head.seq, head.mac) is None

    @staticmethod
    def _broken(seq: int, why: str) -> AuditChainBroken:
        """The refusal to append, logged for the operator (the seq and why only: no row's contents)."""
        problem = (f"audit log head row {seq}: {why}; nothing is appended on top of it (run deepcredit "
                   "audit-verify)")
        log.error("%s", problem)
        return AuditChainBroken(problem)

    def verify(self, session: Session, anchor: tuple[int, str] | None = None, batch: int = 5000
               ) -> VerifyResult:
        """Walk the whole chain in order; report the first broken row, if any. A missing table, or an empty log
        beside merchants or scores (each made by an audited action), is a failure too, never "intact: 0 rows"."""
        result = VerifyResult()
        tables = inspect(session.connection())
        missing = [t for t in (AuditEntry.__tablename__, AuditHead.__tablename__) if not tables.has_table(t)]
        if missing:
            result.fail(0, f"the table {', '.join(missing)} is missing (dropped): the log cannot be verified")
            return result
        prev, expected_seq, last = GENESIS, 1, 0
        query = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
        for e in session.execute(query).scalars():
            if e.seq != expected_seq:
                result.fail(e.seq, f"row {expected_seq} is missing (found {e.seq} next)")
                return result
            if e.prev_mac != prev:
                result.fail(e.seq, "prev_mac does not match the previous row's mac (a row before it was changed)")
                return result
            if not hmac.compare_digest(e.mac, row_mac(self.key, e.seq, e.at, e.actor, e.action, e.subject,
                                                      e.details, e.prev_mac)):
                result.fail(e.seq, "mac does not match the row's contents (the row was changed)")
                return result
            if anchor and e.seq == anchor[0] and e.mac != anchor[1]:
                result.fail(e.seq, "mac differs from the recorded anchor")
                return result
            prev, last, expected_seq = e.mac, e.seq, expected_seq + 1
        result.rows, result.head_seq, result.head_mac = last, last, prev
        head = session.get(AuditHead, 1)
        recorded = (head.seq, head.mac) if head else (0, GENESIS)
        if recorded != (last, prev):
            result.fail(last, f"the log ends at row {last} but the recorded head is row {recorded[0]} "
                              "(rows were removed from the end, or the head was changed)")
        elif anchor and anchor[0] > last:
            result.fail(last, f"the anchor names row {anchor[0]} but the log ends at row {last}")
        elif last == 0 and session.scalar(select(or_(exists(select(Merchant.id)), exists(select(Score.subject))))):
            result.fail(0, "the log is empty or its head is missing, yet the database holds merchants or scores, "
                           "each made by an audited action (serve-init writes a row): the log was emptied")
        return result


@dataclass
class VerifyResult:
    ok: bool = True
    rows: int = 0
    head_seq: int = 0
    head_mac: str = GENESIS
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    def fail(self, seq: int, why: str) -> None:
        self.ok = False
        self.first_bad_seq = seq if self.first_bad_seq is None else self.first_bad_seq
        self.problems.append(f"row {seq}: {why}")
