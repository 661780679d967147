"""Training on several devices or machines with ``tf.distribute`` (where each part lives).

:func:`~kerasdigits.train` takes ``strategy=``: a ``tf.distribute.Strategy`` instance or one
of the names in :data:`~kerasdigits.training.STRATEGIES`. The code is split by concern:

* :mod:`kerasdigits.training._strategy`: strategy names, :func:`make_strategy`,
  :func:`resolve_strategy` and :func:`is_chief`;
* :mod:`kerasdigits.training._run`: the run object ``train`` talks to (:class:`LocalRun` on one
  device, :class:`DistributedRun` under a strategy), :func:`run_distributed` and
  :class:`WorkerFailureError`;
* :mod:`kerasdigits._keras_compat`: the Keras workarounds and every other use of Keras
  internals.

This module re-exports their names, so that ``kerasdigits.training._distribute`` keeps
working for code that imported from it.
"""

from __future__ import annotations

from kerasdigits.training._run import (
    BACKUP_DIR,
    DistributedRun,
    LocalRun,
    Run,
    WorkerFailureError,
    run_distributed,
)
from kerasdigits.training._strategy import (
    STRATEGIES,
    is_chief,
    make_strategy,
    resolve_strategy,
)

__all__ = [
    "BACKUP_DIR",
    "STRATEGIES",
    "DistributedRun",
    "LocalRun",
    "Run",
    "WorkerFailureError",
    "is_chief",
    "make_strategy",
    "resolve_strategy",
    "run_distributed",
]
