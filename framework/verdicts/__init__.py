"""The verdicts stage: a run folder in, ``Results`` out.

Takes a run folder (its timeline, ``run.json`` and scenario copy) and the analysis options,
and gives ``Results``: every figure with its interval, the budget and validation verdicts,
and the comparison with a baseline run.
"""
