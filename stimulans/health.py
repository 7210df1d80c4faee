"""`/healthz`: can this server reach its database, broker and cache? For the load balancer.

Answered by a middleware placed before the host check and the session, language and login
middleware: a load balancer asks by the server's own address, over plain HTTP, without a
session. It says only "ok" or "error" per part (or "in-process" for a part an embedded
install runs inside the web process) — never a version, a host name or an exception's text;
the reason of an error goes to the log.
"""

import json
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

PATH = "/healthz"
OK, ERROR, IN_PROCESS = "ok", "error", "in-process"


def _redis_ping(url: str) -> None:
    timeout = settings.STIMULANS_HEALTHZ_TIMEOUT
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    try:
        if not client.ping():
            raise redis.ConnectionError("no PONG")
    finally:
        client.close()


def check_database() -> str:
    # The connection the pages use (PostgreSQL's connect_timeout bounds the wait).
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return IN_PROCESS
    _redis_ping(settings.CELERY_BROKER_URL)
    return OK


def check_cache() -> str:
    locations = settings.CACHES["default"].get("LOCATION") or []
    urls = [locations] if isinstance(locations, str) else list(locations)
    if not urls or not all(url.startswith(("redis://", "rediss://")) for url in urls):
        return IN_PROCESS
    for url in urls:
        _redis_ping(url)
    return OK


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def report() -> tuple[dict[str, str], bool]:
    """Each part's state, and whether all of them answered."""
    states = {}
    for name, check in CHECKS.items():
        try:
            states[name] = check()
        except Exception:
            logger.warning("healthz: the %s cannot be reached", name, exc_info=True)
            states[name] = ERROR
    if states["database"] == ERROR:
        # Let the next request open a fresh connection instead of reusing a broken one.
        connection.close_if_unusable_or_obsolete()
    return states, ERROR not in states.values()


def healthz(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD"
        return response
    states, healthy = report()
    response = HttpResponse(
        json.dumps(states), content_type="application/json", status=200 if healthy else 503
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == PATH:
            return healthz(request)
        return self.get_response(request)
