"""Which storage errors are worth retrying, and the retry loop with exponential backoff.

Classification lives here and only here. Transient: the endpoint cannot be reached or dropped the
connection, timeouts, throttling (429, SlowDown, Throttling...), server errors (5xx). Everything else
(no such bucket, access denied, bad credentials) fails at once — retrying would only delay the message.
botocore is imported lazily so a local-only run never loads it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "SlowDown", "RequestLimitExceeded", "RequestTimeout",
    "RequestTimeoutException", "InternalError", "ServiceUnavailable", "PriorRequestNotComplete",
})
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})

# A private generator for jitter: drawing from the global `random` would shift the training RNG
# stream whenever an upload happened to be retried, and resumed runs would no longer be exact.
_jitter = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 8
    """Tries in total (the first one included)."""
    base_delay: float = 0.5
    """Seconds before the second try; doubles each time (with jitter), capped at `max_delay`."""
    max_delay: float = 20.0

    def delay(self, attempt: int) -> float:
        """Sleep before try number `attempt + 1` (attempt counts from 1)."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * _jitter.uniform(0.5, 1.0)


def error_code(exc: BaseException) -> str:
    """The S3 error code of the botocore ClientError in `exc`'s chain ('' when there is none)."""
    return str(_response(exc).get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    return int(_response(exc).get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _response(exc: BaseException) -> dict:
    for err in _chain(exc):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            return response
    return {}


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND_CODES or http_status(exc) == 404


def is_transient(exc: BaseException) -> bool:
    """True for errors a later try may not hit: connection trouble, timeouts, throttling, 5xx."""
    from botocore import exceptions as bex

    for err in _chain(exc):
        if isinstance(err, (bex.ConnectionError, bex.HTTPClientError, ConnectionError, TimeoutError)):
            return True
        if isinstance(err, bex.ClientError):
            return error_code(err) in THROTTLING_CODES or http_status(err) == 429 or http_status(err) >= 500
    return False


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, give_up: Callable[[BaseException, int, float], Exception]) -> T:
    """Run `fn`; retry transient failures per `policy`; when it runs out, raise `give_up(exc, tries, secs)`.

    Non-transient errors propagate unchanged on the first try so callers can map them precisely.
    """
    start = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == policy.attempts:
                raise give_up(exc, attempt, time.monotonic() - start) from exc
            time.sleep(policy.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")


def _chain(exc: BaseException):
    """The error and its causes: boto3's transfer manager wraps the botocore error it hit."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
