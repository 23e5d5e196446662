"""Sovereignty and oversight: region-bound data, signed models, overseer sign-off, replay and a
tamper-evident audit log.

The pieces are small modules, each telling one story:

- ``residency`` keeps every session of a deployment inside its region (ORM-level guard);
- ``gateway`` is the explicit, audited door for protected data (fetch, export, federation);
- ``audit`` is the append-only, hash-chained record of everything that must be answerable;
- ``keys`` and ``provenance`` sign and check model artifacts, ``releases`` the overseer's sign-off;
- ``replay`` recomputes a logged For You page; ``privacy`` serves the viewer's rights;
- ``transparency`` turns the stores into a periodic report.

``install_governance(services)`` (in ``wiring``) switches all of it on for a deployment.
"""
