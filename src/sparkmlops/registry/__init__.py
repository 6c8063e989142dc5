"""The model registry of a use case: current / candidate / history, on a folder or on S3.

* :mod:`.core` — the registry logic (state, history, lock, record_run, rollback,
  promote, repair, slot copies), written against the :class:`~.store.Store` protocol;
* :mod:`.store` — that protocol and what every store writes alike;
* :mod:`.local_store` and :mod:`.s3_store` — the two stores.

The stores never import the registry logic.
"""

from sparkmlops.registry.core import SLOTS, Registry

__all__ = ["SLOTS", "Registry"]
