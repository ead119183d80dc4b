"""Cases: the unit that gathers a case's testimony, its metadata and its review.

Top level, the case itself: ``models`` (the case row and its metadata tables, and
``key_case_column``), ``repository`` (scoped case queries), ``service`` (list and detail),
``router`` (the caseworker API), ``schemas`` (case-level bodies), ``pagination`` (cursors),
``content`` (opening the testimony under a thread's key) and ``merge`` (merge and split).

Sub-packages, each with its own ``schemas`` where it has bodies:

* ``workflow``: the states (``CaseState``) and their transition table, transitions, the
  history (events) and derived urgency;
* ``metadata``: the sealed metadata document, coded vocabularies, associated-data
  contexts, consent;
* ``files``: the attachment table, downloads, clean copies and their capped child process;
* ``referrals``: UN Working Group referral drafts and their Markdown rendering;
* ``access``: case key wraps (``wraps``) and grants and revocations (``grants``);
* ``threads``: the submission and message tables, and the thread keyrings.

Intake and follow-up are the public doors that write submissions, attachments and
messages; the tables are the case's own.
"""
