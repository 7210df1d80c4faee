"""The simulated users of the load benchmark (`bench/load_bench.py`, run by locust).

Not run on its own: `load_bench.py` builds the data, starts gunicorn, signs every identity in
through the sign-in form and writes what the users need to a JSON file named by
`LOAD_BENCH_DATA` — per identity its session cookie and, per page, the path to visit and a
piece of text the page must show (the signed-in user's own data: an application, a decision).
A 200 without that text, a redirect (to the sign-in page) or any other status is an error.

- `ProviderUser` (weight 4): the start page, the application form of its draft, its decisions;
- `OfficialUser` (weight 1): the review list of the big call, the decided run, the dashboard;
- `FloorUser` (2 of them, fixed): the floor, a signed-in page rendering the empty layout,
  so that its latency is measured under the same load;
- `OnePageUser`: only the page named by `LOAD_BENCH_PAGE`, for the saturation rounds.

`LOAD_BENCH_WAIT="1,5"` makes each user wait 1–5 s between requests, as people do;
`"0,0"` not at all (saturation). Every request goes to the `--host` the driver gives,
which is 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from locust import FastHttpUser, between, constant, task

DATA = json.loads(Path(os.environ["LOAD_BENCH_DATA"]).read_text())
LOW, HIGH = (float(s) for s in os.environ.get("LOAD_BENCH_WAIT", "1,5").split(","))
WAIT = constant(0) if HIGH == 0 else between(LOW, HIGH)
PAGE = os.environ.get("LOAD_BENCH_PAGE", "floor")

# Each user takes the next identity of its role; client processes start at different places.
_next = {role: itertools.count() for role in DATA["identities"]}


class BenchUser(FastHttpUser):
    abstract = True
    role = "provider"
    wait_time = WAIT

    def on_start(self) -> None:
        people = DATA["identities"][self.role]
        offset = getattr(self.environment.runner, "worker_index", 0) * 7
        self.person = people[(next(_next[self.role]) + offset) % len(people)]
        # An explicit Cookie header wins over the client's cookie jar.
        self.headers = {"Cookie": self.person["cookie"]}

    def visit(self, page: str) -> None:
        path, expect = self.person["pages"][page]
        with self.client.get(
            path,
            name=DATA["labels"][page],
            headers=self.headers,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}")
            elif expect.encode() not in (response.content or b""):
                response.failure("answered 200 without the user's data")


class ProviderUser(BenchUser):
    weight = 4
    role = "provider"

    @task
    def start_page(self) -> None:
        self.visit("start")

    @task
    def application_form(self) -> None:
        self.visit("apply")

    @task
    def decision_list(self) -> None:
        self.visit("decisions")


class OfficialUser(BenchUser):
    weight = 1
    role = "official"

    @task
    def review_list(self) -> None:
        self.visit("review")

    @task
    def run_result(self) -> None:
        self.visit("run")

    @task
    def grant_dashboard(self) -> None:
        self.visit("dashboard")


class FloorUser(BenchUser):
    fixed_count = 2
    role = "provider"

    @task
    def floor_page(self) -> None:
        self.visit("floor")


class OnePageUser(BenchUser):
    role = DATA["roles"].get(PAGE, "provider")

    @task
    def one_page(self) -> None:
        self.visit(PAGE)
