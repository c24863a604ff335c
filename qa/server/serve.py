"""Run the HTTP app on uvicorn with qa's logging, secrets redaction and proxy-header policy.

``qa serve`` builds the app (:func:`qa.server.app.create_app`) and hands it here.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from fastapi import FastAPI

from qa.config import Settings

log = logging.getLogger("qa.serve")


def run(app: FastAPI, settings: Settings, level: str) -> None:
    """Serve ``app`` on ``settings.host:settings.port`` until stopped."""
    log.info("qa serving on http://%s:%s (docs at /docs)", settings.host, settings.port)
    # Our access line (qa.access) replaces uvicorn's; log_config=None keeps our handlers in place.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=level,
        access_log=False,
        log_config=None,
        **proxy_options(settings),
    )


def serve_secrets(settings: Settings) -> list[str]:
    """Every secret the server holds, for the log formatter to redact: keys and the LLM provider's key."""
    keys = [*settings.read_keys, *settings.write_keys, *settings.api_keys]
    if settings.llm_api_key is not None:
        keys.append(settings.llm_api_key)
    return [k.get_secret_value() for k in keys if k.get_secret_value()]


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-header options: X-Forwarded-For/-Proto believed only from QA_TRUSTED_PROXIES.

    uvicorn's own default believes them from 127.0.0.1 (and reads FORWARDED_ALLOW_IPS from
    the environment), so a client on the same host (a sidecar, a tunnel, a proxy that
    passes the header through) could name any address and get a fresh rate-limit bucket
    for each.  Both options are always passed, so nothing else decides.
    """
    if not settings.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}
