"""threads: each submitter's own thread; rows name the case key that seals them

Revision ID: 0009
Revises: 0008

Adds ``submission.thread_id`` and ``key_case_id``, ``attachment.key_case_id``,
``receipt.submission_id`` and ``case_message.submission_id``/``key_case_id``.

Backfill, on the rows as they are (every value was sealed under its current case's key,
because merges used to re-seal, so ``key_case_id = case_id`` everywhere):

* a case's *own* submission is its first one (by day, then id) that did not arrive by a
  merge (``case_link`` ``merged_into`` names the submissions that moved);
* a submission a receipt was issued for is its own thread; a follow-up addition joins the
  first thread of the group it came with (moved in by one merge, or the case's own);
* existing messages go to the case's own submission;
* a receipt goes to its case's own submission; when its case was merged away, to the first
  submission that merge moved. A receipt with no submission at all opens nothing and is
  deleted (a shredded case's receipts are already gone).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_submission = sa.table(
    "submission", sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()),
    sa.column("received_on", sa.Date()), sa.column("is_followup", sa.Boolean()),
    sa.column("thread_id", sa.Uuid()), sa.column("key_case_id", sa.Uuid()),
)
_attachment = sa.table("attachment", sa.column("case_id", sa.Uuid()),
                       sa.column("key_case_id", sa.Uuid()))
_message = sa.table("case_message", sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()),
                    sa.column("submission_id", sa.Uuid()), sa.column("key_case_id", sa.Uuid()))
_receipt = sa.table("receipt", sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()),
                    sa.column("submission_id", sa.Uuid()))
_link = sa.table("case_link", sa.column("kind", sa.String()),
                 sa.column("source_case_id", sa.Uuid()), sa.column("target_case_id", sa.Uuid()),
                 sa.column("submission_ids", sa.Text()))

_Sub = tuple[uuid.UUID, uuid.UUID, date, bool]  # id, case, received_on, is_followup


def _order(s: _Sub) -> tuple[date, str]:
    return (s[2], str(s[0]))


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as b:
        b.add_column(sa.Column("thread_id", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("key_case_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("attachment", schema=None) as b:
        b.add_column(sa.Column("key_case_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("receipt", schema=None) as b:
        b.add_column(sa.Column("submission_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("case_message", schema=None) as b:
        b.add_column(sa.Column("submission_id", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("key_case_id", sa.Uuid(), nullable=True))

    _backfill(op.get_bind())

    with op.batch_alter_table("submission", schema=None) as b:
        b.alter_column("thread_id", existing_type=sa.Uuid(), nullable=False)
        b.alter_column("key_case_id", existing_type=sa.Uuid(), nullable=False)
        b.create_index(b.f("ix_submission_thread_id"), ["thread_id"], unique=False)
        b.create_index(b.f("ix_submission_key_case_id"), ["key_case_id"], unique=False)
        b.create_foreign_key(b.f("fk_submission_thread_id_submission"), "submission",
                             ["thread_id"], ["id"], ondelete="CASCADE")
        b.create_foreign_key(b.f("fk_submission_key_case_id_cases"), "cases",
                             ["key_case_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("attachment", schema=None) as b:
        b.alter_column("key_case_id", existing_type=sa.Uuid(), nullable=False)
        b.create_index(b.f("ix_attachment_key_case_id"), ["key_case_id"], unique=False)
        b.create_foreign_key(b.f("fk_attachment_key_case_id_cases"), "cases",
                             ["key_case_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("receipt", schema=None) as b:
        b.alter_column("submission_id", existing_type=sa.Uuid(), nullable=False)
        b.create_index(b.f("ix_receipt_submission_id"), ["submission_id"], unique=False)
        b.create_foreign_key(b.f("fk_receipt_submission_id_submission"), "submission",
                             ["submission_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("case_message", schema=None) as b:
        b.alter_column("submission_id", existing_type=sa.Uuid(), nullable=False)
        b.alter_column("key_case_id", existing_type=sa.Uuid(), nullable=False)
        b.create_index(b.f("ix_case_message_submission_id"), ["submission_id"], unique=False)
        b.create_index(b.f("ix_case_message_key_case_id"), ["key_case_id"], unique=False)
        b.create_foreign_key(b.f("fk_case_message_submission_id_submission"), "submission",
                             ["submission_id"], ["id"], ondelete="CASCADE")
        b.create_foreign_key(b.f("fk_case_message_key_case_id_cases"), "cases",
                             ["key_case_id"], ["id"], ondelete="CASCADE")


def _backfill(bind: sa.Connection) -> None:
    subs: dict[uuid.UUID, list[_Sub]] = defaultdict(list)
    for row in bind.execute(sa.select(_submission.c.id, _submission.c.case_id,
                                      _submission.c.received_on, _submission.c.is_followup)):
        subs[row[1]].append((row[0], row[1], row[2], bool(row[3])))
    merged_in: dict[uuid.UUID, list[set[uuid.UUID]]] = defaultdict(list)
    moved_from: dict[uuid.UUID, list[uuid.UUID]] = {}
    for kind, source, target, ids_text in bind.execute(sa.select(
            _link.c.kind, _link.c.source_case_id, _link.c.target_case_id,
            _link.c.submission_ids)):
        ids = [uuid.UUID(x) for x in (ids_text or "").split(",") if x]
        if kind == "merged_into":
            merged_in[target].append(set(ids))
            moved_from[source] = ids
    own: dict[uuid.UUID, uuid.UUID] = {}
    thread: dict[uuid.UUID, uuid.UUID] = {}
    for case_id, rows in subs.items():
        groups = [g for g in merged_in.get(case_id, [])]
        arrived = set().union(*groups) if groups else set()
        own_rows = [s for s in rows if s[0] not in arrived]
        for members in [{s[0] for s in own_rows}, *groups]:
            group = sorted((s for s in rows if s[0] in members), key=_order)
            roots = [s for s in group if not s[3]] or group
            if not roots:
                continue
            for s in group:
                thread[s[0]] = s[0] if not s[3] else roots[0][0]
        everything = sorted(own_rows or rows, key=_order)
        first = [s for s in everything if not s[3]] or everything
        own[case_id] = thread.get(first[0][0], first[0][0])
    for sub_id, thread_id in thread.items():
        bind.execute(_submission.update().where(_submission.c.id == sub_id)
                     .values(thread_id=thread_id))
    bind.execute(_submission.update().values(key_case_id=_submission.c.case_id))
    bind.execute(_attachment.update().values(key_case_id=_attachment.c.case_id))
    bind.execute(_message.update().values(key_case_id=_message.c.case_id))
    for msg_id, case_id in bind.execute(sa.select(_message.c.id, _message.c.case_id)).all():
        if case_id in own:
            bind.execute(_message.update().where(_message.c.id == msg_id)
                         .values(submission_id=own[case_id]))
        else:  # a message on a case with no submission left: nobody's thread to show it in
            bind.execute(_message.delete().where(_message.c.id == msg_id))
    for receipt_id, case_id in bind.execute(sa.select(_receipt.c.id, _receipt.c.case_id)).all():
        target = own.get(case_id) or next(
            (thread.get(s, s) for s in moved_from.get(case_id, []) if s in thread), None)
        if target is None:
            bind.execute(_receipt.delete().where(_receipt.c.id == receipt_id))
        else:
            bind.execute(_receipt.update().where(_receipt.c.id == receipt_id)
                         .values(submission_id=target))


def downgrade() -> None:
    with op.batch_alter_table("case_message", schema=None) as b:
        b.drop_constraint(b.f("fk_case_message_key_case_id_cases"), type_="foreignkey")
        b.drop_constraint(b.f("fk_case_message_submission_id_submission"), type_="foreignkey")
        b.drop_index(b.f("ix_case_message_key_case_id"))
        b.drop_index(b.f("ix_case_message_submission_id"))
        b.drop_column("key_case_id")
        b.drop_column("submission_id")
    with op.batch_alter_table("receipt", schema=None) as b:
        b.drop_constraint(b.f("fk_receipt_submission_id_submission"), type_="foreignkey")
        b.drop_index(b.f("ix_receipt_submission_id"))
        b.drop_column("submission_id")
    with op.batch_alter_table("attachment", schema=None) as b:
        b.drop_constraint(b.f("fk_attachment_key_case_id_cases"), type_="foreignkey")
        b.drop_index(b.f("ix_attachment_key_case_id"))
        b.drop_column("key_case_id")
    with op.batch_alter_table("submission", schema=None) as b:
        b.drop_constraint(b.f("fk_submission_key_case_id_cases"), type_="foreignkey")
        b.drop_constraint(b.f("fk_submission_thread_id_submission"), type_="foreignkey")
        b.drop_index(b.f("ix_submission_key_case_id"))
        b.drop_index(b.f("ix_submission_thread_id"))
        b.drop_column("key_case_id")
        b.drop_column("thread_id")
