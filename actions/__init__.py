"""What a person does, once: the functions both the REST routes and the pages call.

One module per kind of act (``sheet``: drafts, appraisals, answers; ``evidence``: uploads and
deletions; ``unit_commands`` and ``cycle_commands``: the workflow commands). Every function is
keyword-only and takes plain values — the caller's ``Principal``, ids (``UnitRef``), parsed
inputs, the database session, the Temporal client, the settings — never a FastAPI type, so a
route is "parse → access rule → action → response model" and a page is "form → action →
redirect". Refusals are ``core.errors`` classes, and only those.
"""
