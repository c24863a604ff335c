"""Access control and rate limiting for the HTTP API (the body-size limit is :mod:`qa.server.body_limit`).

* :class:`KeyChecker` compares a presented API key with every configured key in
  constant time.
* :class:`Access` provides the FastAPI dependencies ``write`` and ``read``:
  ``write`` guards POST/DELETE /documents (403 when no write key is configured
  or for a read key, 401 for a missing or wrong key); ``read`` guards the
  question and document routes when ``require_key_for_reads`` is on.  Missing
  and wrong keys are rate limited per client address (429).  Both declare the
  ``X-API-Key`` and ``Authorization: Bearer`` schemes so /docs offers an
  "Authorize" button.
* :class:`RateLimiter` is a thread-safe, memory-bounded token bucket per API key
  or client address; its ``dependency`` raises ``RateLimited`` (429).

Every refusal is one of the :mod:`qa.errors` classes, carrying its status and
headers (``WWW-Authenticate``, ``Retry-After``), so the app's single ``QAError``
handler shapes the JSON.  Keys are never logged: log lines name the client
address and the route, nothing from the request's headers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from qa.errors import Forbidden, RateLimited, Unauthorized

log = logging.getLogger("qa.security")
# The bucket new clients share while the limiter's table is full of clients still short of tokens.
OVERFLOW = "overflow"

API_KEY_HEADER = "X-API-Key"

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="A key from QA_READ_KEYS (reads) or QA_WRITE_KEYS (reads and writes).",
    auto_error=False,
)
bearer_scheme = HTTPBearer(
    scheme_name="Bearer",
    description="A key from QA_READ_KEYS or QA_WRITE_KEYS, as `Authorization: Bearer KEY`.",
    auto_error=False,
)

HeaderKey = Annotated[str | None, Security(api_key_scheme)]
BearerKey = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps compare_digest from leaking the key's length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class KeyChecker:
    """Constant-time membership test of a presented key against the configured keys."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._digests = [_digest(k.get_secret_value()) for k in keys if k.get_secret_value()]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def matches(self, candidate: str | None) -> bool:
        """True when ``candidate`` equals one of the keys; every key is compared, no early exit."""
        if not candidate:
            return False
        presented = _digest(candidate)
        found = False
        for key in self._digests:
            # Non-short-circuiting OR: the time taken doesn't reveal which key (if any) matched.
            found |= hmac.compare_digest(presented, key)
        return found


def presented_key(request: Request) -> str | None:
    """The key a request carries in ``X-API-Key`` or ``Authorization: Bearer``, if any."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def client_key(request: Request) -> str:
    """The address a request's limits are kept under.

    ``request.client`` is the socket's peer unless ``qa serve`` was told to believe a
    proxy (QA_TRUSTED_PROXIES), so a client can't pick its own bucket with a header.
    An IPv6 client is keyed by its /64: one host routinely holds a whole /64, and
    keying by address would give it 2^64 fresh buckets.
    """
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "addr:" + (host or "unknown")
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"addr:{address.ipv4_mapped}"
        return f"addr:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"addr:{address}"


class Access:
    """The API-key dependencies of one app, built from its settings.

    Two scopes: read keys may read, write keys may write and read.  A read key
    lives in public page HTML (the widget's ``data-api-key``), so it must never
    be able to change the index: it gets 403 on a write.  Missing and wrong keys
    are counted per client address (``failures``); past that limit the address
    gets 429 *before* any key is compared, so keys can't be guessed at speed.
    """

    def __init__(
        self,
        write_keys: Sequence[SecretStr],
        read_keys: Sequence[SecretStr] = (),
        *,
        failures_per_minute: int = 0,
    ) -> None:
        self.write_keys = KeyChecker(write_keys)
        self.read_keys = KeyChecker(read_keys)
        self.failures = RateLimiter(failures_per_minute, max(failures_per_minute, 1))

    @property
    def configured(self) -> bool:
        return self.write_keys.configured or self.read_keys.configured

    def matches(self, key: str | None) -> bool:
        """True for any valid key, read or write (both always compared: no timing hint of the scope)."""
        return self.write_keys.matches(key) | self.read_keys.matches(key)

    def _refuse(self, request: Request, message: str, why: str) -> Unauthorized:
        self.failures.acquire(client_key(request))
        log.warning("refused %s %s: %s", request.method, request.url.path, why)
        return Unauthorized(message)

    def _check_throttle(self, request: Request) -> None:
        wait = self.failures.wait(client_key(request))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            log.warning("refused %s %s: too many failed keys", request.method, request.url.path)
            raise RateLimited(
                f"too many requests without a valid API key; retry after {retry_after} s", retry_after
            )

    def _check(self, request: Request, key: str | None, *, write: bool) -> None:
        self._check_throttle(request)
        if key is None:
            raise self._refuse(
                request,
                f"an API key is required: send it as `{API_KEY_HEADER}: KEY` or `Authorization: Bearer KEY`",
                "no API key",
            )
        is_writer = self.write_keys.matches(key)
        is_reader = self.read_keys.matches(key)
        if not (is_writer or is_reader):
            raise self._refuse(request, "the API key is not valid", "wrong API key")
        if write and not is_writer:
            log.warning("refused %s %s: read key on a write", request.method, request.url.path)
            raise Forbidden("this API key may only read: writes need a key from QA_WRITE_KEYS")

    @staticmethod
    def _key(header_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> str | None:
        if header_key and header_key.strip():
            return header_key.strip()
        if bearer is not None and bearer.credentials.strip():
            return bearer.credentials.strip()
        return None

    async def write(
        self,
        request: Request,
        header_key: HeaderKey = None,
        bearer: BearerKey = None,
    ) -> None:
        """Dependency of the write routes: 403 with no write key configured or a read key, 401 without a valid key."""
        if not self.write_keys.configured:
            raise Forbidden(
                "writes are disabled because no write key is configured: set QA_WRITE_KEYS "
                "(or the older QA_API_KEYS; comma-separated keys) and restart the server to enable them"
            )
        self._check(request, self._key(header_key, bearer), write=True)

    async def read(
        self,
        request: Request,
        header_key: HeaderKey = None,
        bearer: BearerKey = None,
    ) -> None:
        """Dependency of the read routes when QA_REQUIRE_KEY_FOR_READS is on."""
        if not self.configured:
            # Reads are protected but nobody could hold a key: say how to fix the configuration.
            raise Forbidden(
                "QA_REQUIRE_KEY_FOR_READS is on but no API key is configured: set QA_READ_KEYS "
                "(and QA_WRITE_KEYS or QA_API_KEYS for writers)"
            )
        self._check(request, self._key(header_key, bearer), write=False)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per client: ``burst`` capacity, refilled at ``per_minute`` tokens a minute.

    Clients are named by a valid API key (``keys``) or else by address (see
    :func:`client_key`).  ``max_clients`` bounds memory: buckets that have refilled
    completely carry no state worth keeping and are swept.  A bucket still short of
    tokens is never evicted (forgetting it would hand a throttled client a fresh
    burst): while the table is full of those, new clients share one overflow
    bucket, so a flood of new addresses throttles only newcomers, and only until
    the flood's own buckets refill and are swept.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        keys: Access | KeyChecker | None = None,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(max(burst, 1))
        self.keys = keys
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, client: str) -> float:
        """Take one token for ``client``: 0.0 if allowed, else the seconds until one is available."""
        return self._take(client, 1.0)

    def wait(self, client: str) -> float:
        """Seconds until ``client`` could take a token (0.0: now), taking none."""
        return self._take(client, 0.0)

    def _take(self, client: str, cost: float) -> float:
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            self._sweep(now)
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= max(self.max_clients - 1, 1):  # one place kept for OVERFLOW
                    client = OVERFLOW
                    bucket = self._buckets.get(client)
                if bucket is None:
                    bucket = self._buckets[client] = _Bucket(self.capacity, now)
            self._buckets.move_to_end(client)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= cost
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full_after = self.capacity / self.rate  # seconds for an empty bucket to refill
        if now >= self._next_sweep or len(self._buckets) >= self.max_clients:
            self._next_sweep = now + min(full_after, 60.0)
            # Oldest first (LRU order): stop at the first bucket that may still be short of tokens,
            # so a sweep costs O(1) per bucket it removes.
            while self._buckets:
                client, bucket = next(iter(self._buckets.items()))
                if now - bucket.updated < full_after:
                    break
                del self._buckets[client]

    async def dependency(self, request: Request) -> None:
        """Dependency of the question routes: one token per request, else 429 with Retry-After."""
        if not self.enabled:
            return
        client = self._client_of(request)
        wait = self.acquire(client)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            where = "key" if client.startswith("key:") else (request.client.host if request.client else "?")
            log.info(
                "rate limited %s %s (%s); retry after %ss",
                request.method,
                request.url.path,
                where,
                retry_after,
            )
            raise RateLimited(
                f"rate limit exceeded ({int(self.rate * 60)} requests a minute, bursts of "
                f"{int(self.capacity)}); retry after {retry_after} s",
                retry_after,
            )

    def _client_of(self, request: Request) -> str:
        key = presented_key(request)
        # Only a valid key names a bucket: otherwise a client could dodge the limit with a new
        # made-up key on every request.  The digest keeps keys themselves out of memory dumps.
        if key is not None and self.keys is not None and self.keys.matches(key):
            return "key:" + _digest(key).hex()[:32]
        return client_key(request)
