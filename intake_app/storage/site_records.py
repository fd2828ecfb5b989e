"""Records over several stores: a supervisor's case list and search across the site.

docs/security.md, "Device: keys and scopes": each counsellor's records are in a store of
their own. A user whose keys open several stores (a supervisor with the site key) gets
this service: it asks every store's :class:`RecordService` and merges the answers (the
case list by its sort key, counts by sum), and sends a change to the store that holds
the record. New records go to the user's own store.

Each store is a separate connection with the profile database attached; SQLite allows
only ten attached files per connection, so one connection per store scales to any number
of counsellors.
"""

from __future__ import annotations

import builtins
import dataclasses
import heapq
import logging
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import Any

from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Actor, Permission
from intake_app.errors import ConflictError, NotFound
from intake_app.i18n import _
from intake_app.storage import audit
from intake_app.storage.database import Database
from intake_app.storage.lifecycle import ErasureReason, Lifecycle, Overview, PurgeResult
from intake_app.storage.models import ConsentWithdrawal, Erasure, RecordRevision
from intake_app.storage.record_queries import (
    COUNT_CAP,
    Record,
    RecordQuery,
    RecordSummary,
    _summary,
    row_key,
)
from intake_app.storage.records import RecordService

log = logging.getLogger("intake.storage")


class SiteRecords:
    """The record operations of :class:`RecordService`, over several stores.

    Args:
        services: one record service per store, by store id.
        home: the store new records go to (None: the user creates none).
        dbs: the store databases, by store id.
        actor: who acts.
    """

    def __init__(
        self,
        *,
        services: dict[str, RecordService],
        dbs: dict[str, Database],
        actor: Actor,
        home: str | None,
    ) -> None:
        self._services = services
        self._dbs = dbs
        self._actor = actor
        self._home = home
        self._where: dict[str, str] = {}
        #: ids found in exactly one store (see :meth:`store_of`)
        self._unique: set[str] = set()
        self._cursor: _Cursor | None = None

    # -- routing -----------------------------------------------------------------------

    def store_of(self, record_id: str) -> str:
        """The store that holds ``record_id``.

        Record ids are unique within a store, not across them: whoever holds a store's key
        can give a record of hers a colleague's id (attacker run 16), and a supervisor who
        opened or moved "the" record would then reach the wrong one. So the first look-up
        of an id asks every store; an id that two stores hold is refused and reported.
        """
        sid = self._where.get(record_id)
        if sid is not None and record_id in self._unique and self._services[sid].holds(record_id):
            return sid
        holders = [sid for sid, service in self._services.items() if service.holds(record_id)]
        if not holders:
            raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
        if len(holders) > 1:
            self._report_twice(record_id, holders)
            raise ConflictError(
                _(
                    "Eine Akte mit dieser Kennung liegt in zwei Aktenspeichern; eine davon "
                    "wurde außerhalb des Programms angelegt. Sie wird nicht geöffnet, nicht "
                    "verschoben und nicht geändert. Bitte informieren Sie die Administration."
                )
            )
        self._where[record_id] = holders[0]
        self._unique.add(record_id)
        return holders[0]

    def _report_twice(
        self, record_id: str, holders: list[str], *, kind: str = "record_in_two_stores"
    ) -> None:
        log.error("%s: %d stores", kind, len(holders))
        with self._dbs[holders[0]].write() as session:
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.INTEGRITY_VIOLATION,
                subject_type="record",
                subject_id=record_id,
                details={"findings": [{"kind": kind, "stores": [s[:16] for s in holders]}]},
            )

    def service_for(self, record_id: str) -> RecordService:
        return self._services[self.store_of(record_id)]

    def _routed(self, name: str) -> Callable[..., Any]:
        def call(record_id: str, *args: Any, **kwargs: Any) -> Any:
            return getattr(self.service_for(record_id), name)(record_id, *args, **kwargs)

        return call

    def __getattr__(self, name: str) -> Any:
        if name in {
            "open",
            "get",
            "save",
            "save_position",
            "finalise",
            "start_revision",
            "close_case",
            "reopen_case",
            "withdraw_consent",
            "add_contact",
            "case_events",
            "update_answers",
            "request_handover",
            "handover_requests",
            "discard_new",
        }:
            return self._routed(name)
        if name.startswith("_"):
            raise AttributeError(name)
        # anything else (settings the services share) is the same in every store's service
        return getattr(next(iter(self._services.values())), name)

    # -- creation ----------------------------------------------------------------------

    def create(
        self, *, form_id: str, form_version: str, answers: dict[str, Any] | None = None
    ) -> Record:
        if self._home is None:
            self._actor.require(Permission.CREATE_RECORD)
            raise ConflictError(_("Für dieses Konto gibt es keinen eigenen Aktenspeicher."))
        record = self._services[self._home].create(
            form_id=form_id, form_version=form_version, answers=answers
        )
        self._where[record.id] = self._home
        return record

    # -- lists -------------------------------------------------------------------------

    def forget_searches(self) -> None:
        """Count searches afresh in every store (see :meth:`RecordService.forget_searches`)."""
        self._cursor = None
        for service in self._services.values():
            service.forget_searches()

    def count(self, query: RecordQuery, *, cap: int = COUNT_CAP) -> int:
        total = 0
        for service in self._services.values():
            # each store counts only as far as the cap still needs (as one database would)
            total += service.count(query, cap=cap - total)
            if total > cap:
                return cap + 1
        return total

    def list(self, query: RecordQuery, *, offset: int = 0, limit: int = 200) -> list[RecordSummary]:
        """One page of the merged case list.

        Every store hands out its rows in the list's order; the page is merged from their
        heads. Reading on where the previous page ended (scrolling) continues from the
        rows already fetched; any other offset, and the first page (a reload), starts again
        from the top.
        """
        cursor = self._cursor
        if cursor is None or not offset or cursor.query != query or cursor.position != offset:
            cursor = _Cursor(query, list(self._services))
            if offset:
                cursor.skip(self._services, offset)
        page = cursor.take(self._services, limit)
        self._cursor = cursor
        for sid, summary in page:  # the list knows where each record is
            if self._where.get(summary.id, sid) != sid:
                # another store lists this id now: it is looked up again (store_of)
                self._unique.discard(summary.id)
            self._where[summary.id] = sid
        return [summary for _sid, summary in page]

    def id_for_case_number(self, case_number: str) -> str | None:
        """The record with this case number; a number two records hold (one of them given
        it outside the program, attacker run 17) is refused and reported, never resolved
        to whichever store comes first."""
        self._actor.require(Permission.ERASE_RECORDS)
        found = {
            sid: record_id
            for sid, service in self._services.items()
            if (record_id := service.id_for_case_number(case_number)) is not None
        }
        if len(found) > 1 or len(set(found.values())) > 1:
            self._report_twice(next(iter(found.values())), list(found), kind="case_number_twice")
            raise ConflictError(
                _(
                    "Dieses Aktenzeichen tragen zwei Akten; eine davon wurde außerhalb des "
                    "Programms angelegt. Es wird nichts gelöscht. Bitte informieren Sie die "
                    "Administration."
                )
            )
        for record_id in found.values():
            return record_id
        return None

    def owners(self) -> builtins.list[tuple[int, str]]:
        self._actor.require(Permission.VIEW_SITE_RECORDS)
        seen: dict[int, str] = {}
        for service in self._services.values():
            seen.update(service.owners())
        return sorted(seen.items(), key=lambda item: item[1].casefold())

    def revisions(self, record_id: str) -> builtins.list[RecordRevision]:
        return self.service_for(record_id).revisions(record_id)

    def withdrawals(self, record_id: str) -> builtins.list[ConsentWithdrawal]:
        return self.service_for(record_id).withdrawals(record_id)


def _ascending(key: Any) -> Any:
    return key


class _Descending:
    """A sort key that orders the other way round (for a heap of the largest first)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)


class _Cursor:
    """Where a merged case list stands in every store (rows fetched, not yet handed out).

    Rows stay database rows until they are handed out; only those become summaries.
    """

    #: Rows fetched from a store at first: a page is spread over the stores, so each
    #: gives a share; a store whose rows run out before the page is full gives more,
    #: twice as many each time (few queries also when one store holds the whole page).
    MIN_CHUNK = 10

    def __init__(self, query: RecordQuery, order: builtins.list[str]) -> None:
        self.query = query
        self.position = 0
        self.order = {sid: n for n, sid in enumerate(order)}
        self.buffers: dict[str, deque[tuple[tuple[Any, ...], tuple[Any, ...]]]] = {
            sid: deque() for sid in order
        }
        self.fetched = dict.fromkeys(order, 0)
        self.done = dict.fromkeys(order, False)
        self.chunk = dict.fromkeys(order, 0)

    def _fill(self, services: dict[str, RecordService], sid: str, want: int) -> None:
        share = max(self.MIN_CHUNK, 2 * want // max(1, len(self.buffers)))
        size = max(share, 2 * self.chunk[sid])
        self.chunk[sid] = size
        rows = services[sid].list_rows(self.query, offset=self.fetched[sid], limit=size)
        self.fetched[sid] += len(rows)
        if len(rows) < size:
            self.done[sid] = True
        order = self.order[sid]
        for row in rows:
            value, pk = row_key(row)
            self.buffers[sid].append(((value, order, pk), row))

    def take(
        self, services: dict[str, RecordService], limit: int
    ) -> builtins.list[tuple[str, RecordSummary]]:
        page: builtins.list[tuple[str, RecordSummary]] = []
        wrap: Callable[[Any], Any] = _Descending if self.query.descending else _ascending
        # every store's next row, in the list's order (keys are unique: store and pk)
        heads: builtins.list[tuple[Any, str]] = []
        for sid, buffer in self.buffers.items():
            if not buffer and not self.done[sid] and limit:
                self._fill(services, sid, limit)
            if buffer:
                heads.append((wrap(buffer[0][0]), sid))
        heapq.heapify(heads)
        while heads and len(page) < limit:
            _key, sid = heapq.heappop(heads)
            buffer = self.buffers[sid]
            page.append((sid, _summary(buffer.popleft()[1])))
            if not buffer and not self.done[sid] and len(page) < limit:
                self._fill(services, sid, limit - len(page))
            if buffer:
                heapq.heappush(heads, (wrap(buffer[0][0]), sid))
        self.position += len(page)
        return page

    def skip(self, services: dict[str, RecordService], count: int) -> None:
        """Jump to ``count``: every store gives its first ``count`` rows, merged."""
        for sid in self.buffers:
            self._fill(services, sid, count)
        while self.position < count:
            if not self.take(services, min(1000, count - self.position)):
                break


class SiteLifecycle:
    """:class:`~intake_app.storage.lifecycle.Lifecycle` over several stores.

    Retention and the overview run over every store and add up; an erasure or an access
    request goes to the store that holds the record.
    """

    def __init__(self, *, lifecycles: dict[str, Lifecycle], records: SiteRecords) -> None:
        self._lifecycles = lifecycles
        self._records = records

    def _for(self, record_id: str) -> Lifecycle:
        return self._lifecycles[self._records.store_of(record_id)]

    def erase(self, record_id: str, *, reason: ErasureReason | str) -> bool:
        return self._for(record_id).erase(record_id, reason=reason)

    def person_export(self, record_id: str) -> dict[str, Any]:
        return self._for(record_id).person_export(record_id)

    def erasures(self) -> builtins.list[Erasure]:
        return next(iter(self._lifecycles.values())).erasures()

    def due_for_purge(self, *, today: date | None = None) -> tuple[builtins.list[str], int]:
        due: builtins.list[str] = []
        kept = 0
        for lifecycle in self._lifecycles.values():
            ids, undelivered = lifecycle.due_for_purge(today=today)
            due += ids
            kept += undelivered
        return due, kept

    def purge_due(self, *, today: date | None = None) -> PurgeResult:
        purged = kept = 0
        for lifecycle in self._lifecycles.values():
            result = lifecycle.purge_due(today=today)
            purged += result.purged
            kept += result.kept_undelivered
        return PurgeResult(purged=purged, kept_undelivered=kept)

    def outcome_facts(self) -> builtins.list[dict[str, Any]]:
        """The facts of the cases in every store the user reads (the outcome figures)."""
        facts: builtins.list[dict[str, Any]] = []
        for lifecycle in self._lifecycles.values():
            facts += lifecycle.outcome_facts()
        return facts

    def overview(self, *, today: date | None = None) -> Overview:
        parts = [lifecycle.overview(today=today) for lifecycle in self._lifecycles.values()]
        by_status: dict[str, int] = {}
        months: dict[str, dict[str, int]] = {}
        for part in parts:
            for status, count in part.by_status.items():
                by_status[status] = by_status.get(status, 0) + count
            for month, counts in part.by_month:
                slot = months.setdefault(month, {})
                for status, count in counts.items():
                    slot[status] = slot.get(status, 0) + count
        if not parts:
            return Overview(
                by_status={},
                by_month=[],
                open_referrals=0,
                records_with_open_referrals=0,
                expiring_permits=0,
                recognition_pending=0,
                not_delivered=0,
                removed_for_statistics=0,
            )
        # every other field (settings, time) is the same in each part: the first one's
        return dataclasses.replace(
            parts[0],
            by_status=by_status,
            by_month=sorted(months.items()),
            open_referrals=sum(p.open_referrals for p in parts),
            records_with_open_referrals=sum(p.records_with_open_referrals for p in parts),
            expiring_permits=sum(p.expiring_permits for p in parts),
            recognition_pending=sum(p.recognition_pending for p in parts),
            not_delivered=sum(p.not_delivered for p in parts),
            # the anonymised traces live in the profile database: every store sees them all
            removed_for_statistics=parts[0].removed_for_statistics,
        )
