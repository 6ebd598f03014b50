"""The contract at the Temporal boundary: everything workflows exchange with the outside.

- ``contracts.messages``: workflow inputs, commands (updates), results, activity arguments;
- ``contracts.activities``: the activity interfaces workflows call by method reference;
- ``contracts.search_attributes``: the unit workflows' search attributes;
- ``contracts.ids``: workflow type names, workflow ids and idempotency keys.

It imports only pydantic, temporalio, the stdlib and ``models.states`` (a test checks it), so
the workflow sandbox passes it through without loading the database layer.
"""
