"""Settings of the gunicorn a browser test starts: the product's, with static files served.

With DEBUG off nothing in the product serves /static/ yet (WhiteNoise will); until then the
test's server serves them from the finders with staticfiles' own view (`gunicorn_urls`).
Loaded only by that server (DJANGO_SETTINGS_MODULE), never by the product.
"""

from stimulans.settings import *  # noqa: F403

ROOT_URLCONF = "tests.gunicorn_urls"
