"""The eval harness: tooling outside the service (it imports ``qa``; the service never imports it).

The stages, in order, one module each:

* ``dataset``  JSONL question files (seed and RealTime QA news formats) -> ``EvalItem``
* ``metrics``  metric names; answer, citation and rank scoring; the one ``percentile``
* ``run``      each item against an ``EvalTarget`` (search + ask) -> ``EvalRow`` -> summary
* ``baseline`` deltas against a baseline summary and the regressions beyond a tolerance
* ``report``   the terminal table, ``results.json`` and the self-contained ``report.html``
* ``cli``      ``qa eval``: index a corpus into its own directory and run the above over a ``Pipeline``
"""
