"""The HTTP stage: ``create_app`` (:mod:`qa.server.app`) serves the pipeline over FastAPI.

Outermost in the data flow: a request passes the middleware (request id, CORS,
body limit), the key and rate-limit dependencies, one route module
(``routes_site``, ``routes_answer``, ``routes_documents``, or the integrations:
``openai_compat``, ``mcp_server``), and reaches :class:`qa.pipeline.Pipeline`; every
error answer is built in ``handlers`` from :func:`qa.errors.error_body`.
"""
