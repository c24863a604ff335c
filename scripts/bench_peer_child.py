"""One peer framework's ingest and query timings; run by scripts/bench_peers.py in the peers' venv.

Reads a JSON job (model directory, chunk texts, questions, batch size) and prints
one JSON line: ``ingest_s`` (embed + store every chunk) and the per-question
retrieval latencies in ms (top 5, in-process, no LLM).  The peers get exactly
qa's chunk texts, so the embedding work is the same; each uses its framework's
own defaults otherwise (fp32 sentence-transformers).

Not imported by qa: it runs under another interpreter without qa installed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def llamaindex(job: dict[str, Any]) -> dict[str, Any]:
    import faiss
    from llama_index.core import Settings, StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    embed = HuggingFaceEmbedding(model_name=job["model"], device="cpu", embed_batch_size=job["batch_size"])
    Settings.llm = None
    embed.get_text_embedding("warm up")
    nodes = [TextNode(text=t, id_=str(i)) for i, t in enumerate(job["chunks"])]
    start = time.perf_counter()
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(job["dimension"]))
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )
    ingest_s = time.perf_counter() - start
    retriever = index.as_retriever(similarity_top_k=5)
    return {"ingest_s": ingest_s, "query_ms": _queries(lambda q: retriever.retrieve(q), job["questions"])}


def haystack(job: dict[str, Any]) -> dict[str, Any]:
    from haystack import Document
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    doc_embedder = SentenceTransformersDocumentEmbedder(model=job["model"], batch_size=job["batch_size"])
    text_embedder = SentenceTransformersTextEmbedder(model=job["model"])
    doc_embedder.warm_up()
    text_embedder.warm_up()
    docs = [Document(content=t, id=str(i)) for i, t in enumerate(job["chunks"])]
    start = time.perf_counter()
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    store.write_documents(doc_embedder.run(docs)["documents"])
    ingest_s = time.perf_counter() - start
    retriever = InMemoryEmbeddingRetriever(store, top_k=5)

    def query(q: str) -> object:
        return retriever.run(query_embedding=text_embedder.run(q)["embedding"])

    return {"ingest_s": ingest_s, "query_ms": _queries(query, job["questions"])}


def _queries(run: Any, questions: list[str]) -> list[float]:
    import faiss
    import torch

    # One thread per query, as qa serve runs: two threads on a busy 2-core machine cost 10-30x.
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    run(questions[0])  # warm up
    out = []
    for q in questions:
        start = time.perf_counter()
        run(q)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    peer, job_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    import torch

    torch.set_num_threads(job.get("threads") or torch.get_num_threads())
    result = {"llamaindex": llamaindex, "haystack": haystack}[peer](job)
    print(json.dumps({"peer": peer, **result}))


if __name__ == "__main__":
    main()
