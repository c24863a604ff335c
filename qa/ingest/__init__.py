"""The ingest stage: files, uploads and feeds -> Articles -> chunks -> vectors, ready for the store.

* ``load``        files / JSONL / uploads -> :class:`qa.types.Article` (stable ids, metadata, problems reported)
* ``chunk``       Article -> sentence spans -> overlapping chunks (character offsets into the article)
* ``embed``       chunks and sentences -> vectors, reusing what the store already holds by content hash
* ``feeds``       RSS/Atom feeds -> fetched pages -> Articles; ``feed_store`` remembers what was read

:func:`qa.store.write.write_articles` runs them in that order and hands the result to the store.
"""
