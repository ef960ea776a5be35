"""The run stage: a scenario and command-line options in, a run folder out.

Takes a ``LoadedScenario`` and ``RunOptions`` and gives a run folder (``reports/<run_id>/``)
holding the scenario, ``run.json`` and what the Locust master and workers it starts as child
processes wrote: the timeline and Locust's own files.
"""
