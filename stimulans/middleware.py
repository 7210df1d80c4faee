"""The Content-Security-Policy header, on every response.

Django 5.2 has no CSP of its own (6.0 brings `SECURE_CSP` and a middleware of the same
shape): this reads the same setting, so the upgrade replaces this class by Django's.
The policy is one fixed string: no nonces, as no page has inline script or style.
"""

from __future__ import annotations

from django.conf import settings


def policy(directives: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = policy(settings.SECURE_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        # A view that needs another policy sets its own header.
        if self.header and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.header
        return response
