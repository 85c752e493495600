"""fti.run: running the pipeline notebooks as a system (the runner's wing).

- ``plan``         the steps of a production day and their parameters, what is due, the
                   retrain decision; the step runner both schedulers use
- ``orchestrate``  the sequential chain: one pipeline, a day, a simulated period, the demo
- ``two_kernels``  the two-kernel scheduler of long replays (``--features-ahead``)
- ``engine``       the ``warm`` papermill engine; ``kernels`` the warm kernels it runs on
- ``runs``         one execution: run folders, manifests, HTML exports
- ``report``       the static report page reports/index.html
- ``cli``          the ``fti`` command

Imports point from here to :mod:`fti`, never back: the notebooks import only :mod:`fti`.
"""
