"""Developer tools: tooling outside the service (they import ``qa``; the service never imports them).

* ``harness``       a real ``qa serve`` on a free 127.0.0.1 port: start, poll ``/health``, stop
* ``bench``         ``qa bench``: ingest throughput against raw ``encode``, HTTP latency
* ``load``          ``python -m qa.tools.load``: N concurrent clients on ``/search`` and ``/ask``
* ``local_llm``     SmolLM2 offline behind llama.cpp's OpenAI-compatible server (``LocalLLMServer``)
* ``local_llm_cli`` its command line: ``python -m qa.tools.local_llm`` and ``qa llm-server``
"""
