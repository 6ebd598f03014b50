"""Every page follows an API access rule: the page rules table is complete and served."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from api.access import POLICY
from tests.api_support import client, make_app
from web.auth import PAGE_RULES
from web.pages import PAGE_ROUTERS

# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(engine, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"))


# --- the rules table -------------------------------------------------------------------------


def test_every_page_follows_an_api_rule(app) -> None:
    pages = {
        f"{method} {getattr(route, 'path', '')}"
        for pages in PAGE_ROUTERS
        for route in pages.routes
        for method in getattr(route, "methods", ())
    }
    assert pages == set(PAGE_RULES)
    assert all(api_key in POLICY for api_key in PAGE_RULES.values())
    # the app serves them (a page without a rule would be a 500, see web.auth.page_caller)
    served = client(app).get("/cycles", follow_redirects=False)
    assert served.status_code == 303 and served.headers["location"].startswith("/login")
