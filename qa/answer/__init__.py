"""The answer stage: a typed question in, a verified and assessed answer out.

In the order a question passes through them:

* ``retrieve``  question -> scored passages (FAISS and BM25 fused with RRF; filters; as-of dates)
* ``evidence``  passages -> candidate sentences, and their vectors (stored at ingest, else embedded)
* ``question``  what the question asks for: answer type, predicate, names
* ``backends``  the draft: ``extractive`` (quotes the sentence that answers) or ``litellm:<model>``,
  with ``prompts`` for the LLM
* ``verify``    every draft sentence judged against its cited evidence; citations renumbered
* ``entail``    the judgement (entailed / contradicted / not stated), reading ``facts`` (names,
  quantities, dates) and ``syntax`` (who did what to whom, polarity, alignment)
* ``assess``    citation scores, the short answer and calibrated confidence (``data/confidence.json``)

:class:`qa.pipeline.Pipeline` calls them in that order; none of them calls back up.
"""
