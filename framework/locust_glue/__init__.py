"""The Locust glue: the only package that imports Locust or gevent.

Takes a ``LoadedScenario`` and its ``LoadPlan`` and gives Locust what it runs: one
``FastHttpUser`` class per kind of user, one ``LoadTestShape`` that asks the pure plan what
to do, and the event listeners that record every request into the timeline.
"""
