"""Settings of the portal benchmark's gunicorn: the product's, plus the floor's URL.

Loaded only by the server `bench/portal_bench.py` starts (DJANGO_SETTINGS_MODULE), never by
the product.
"""

from stimulans.settings import *  # noqa: F403

ROOT_URLCONF = "portal_urls"
