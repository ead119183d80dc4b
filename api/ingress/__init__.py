"""Ingress: the one way public bytes enter.

Every public route that takes a body (the API's submissions, tus uploads and follow-up,
and the web form's report and follow-up pages) is a door in one admission table,
:data:`api.ingress.admit.POLICIES`: which guards run, in which order (header bound, tus
version, rate buckets, declared size, upload slots, the disk reservation, recovery key,
and where the route's own credential check sits). Routes take their admission as a
dependency and read the body only from it, with its deadline, so no public route can
forget a guard, and the next change to how a client is identified
(:func:`api.ingress.guards.client_tag`) or limited is made in one place.

Around the table: :mod:`~api.ingress.guards` (the guards and the body deadline),
:mod:`~api.ingress.inflight` (what a body holds while it streams: upload slots and its
disk reservation),
:mod:`~api.ingress.body` (JSON or multipart, a JSON body within its limit),
:mod:`~api.ingress.multipart` (the streaming parser), :mod:`~api.ingress.files` (file
sinks that encrypt as bytes arrive, filename checks), :mod:`~api.ingress.filetypes`
(type detection from content), :mod:`~api.ingress.argon2` (the Argon2id limiter) and
:mod:`~api.ingress.schemas` (what a door says about the files it got). Only ``admit`` and
``guards`` see the request; the rest take bytes and settings.

Ingress sits low: it imports only ``api.core``, ``api.storage`` and ``api.keys`` (the
recovery-key check), never the features whose doors it guards.
"""
