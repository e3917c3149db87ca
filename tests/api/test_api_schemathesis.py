"""Schemathesis drives the API from its own OpenAPI document.

Generated requests, valid and invalid, go to the WSGI app with a token.
Every response must be no 5xx and must match the document (status code,
headers, body schema); valid input must be accepted and invalid input
refused. The stateful run follows the document's links (create, then
rename, append, list, delete what was created), which reaches the
single-conversation operations with ids that exist.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy import delete

from tests.api.conftest import bearer, make_token
from webapp.api.openapi import openapi_document
from webapp.extensions import db
from webapp.models import TITLE_MAX, Conversation

# Enough to find shape and crash bugs, small enough to keep the suite quick.
EXAMPLES_PER_OPERATION = 30
SCENARIOS = 30
STEPS_PER_SCENARIO = 8

# One app and database per test, shared by its examples on purpose: state
# builds up as it would in use.
SETTINGS = settings(
    deadline=None,
    database=None,
    # The same examples on every run: a failure is the code's, reproducible,
    # never the luck of the draw.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class CurrentTest:
    """What the schema talks to: the running test's app, as its fuzzer.

    The document is loaded once, at import, from the function that serves it;
    the app, its database and the token are made fresh for each test, as
    everywhere in this suite. (schemathesis' lazy fixture loader would do the
    same, but it relies on a pytest internal that pytest 9 removed.)
    """

    app = None
    token: str | None = None

    def __call__(self, environ, start_response):  # a WSGI app
        return self.app(environ, start_response)


current = CurrentTest()
schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = current
# Requests go to the app in-process; the host is only for building URLs.
schema.config.update(base_url="http://localhost")
schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)


# Through schemathesis' auth hook, not a plain header, so that its checks know
# which credentials are real. No caching: each test has its own token.
@schema.auth(refresh_interval=None)
class FuzzerToken:
    def get(self, case, context) -> str:
        return current.token

    def set(self, case, token: str, context) -> None:
        case.headers = {**(case.headers or {}), **bearer(token)}


@pytest.fixture
def fuzzer(app, user):
    current.app = app
    current.token = make_token(app, user)
    yield
    current.app = current.token = None


def checks_to_skip(case) -> list:
    """Set aside the checks of valid and invalid input where the document cannot be exact.

    A title is limited to 255 characters after trimming, which maxLength
    cannot say: a generated "too long" title padded with white space is
    rightly accepted.
    """
    body = case.body if isinstance(case.body, dict) else {}
    skipped = []
    title = body.get("title")
    if isinstance(title, str) and len(" ".join(title.split())) <= TITLE_MAX < len(title):
        skipped.append(negative_data_rejection)
    # A message id (and a page cursor, which is one) must name one of the
    # thread's messages, which the document cannot list: a generated one is
    # rightly refused (422).
    names_a_message = body.get("parent_id") is not None or body.get("current_message_id") is not None
    # NUL is refused anywhere in a body, keys of tool_calls objects included,
    # which JSON Schema can say of values but not of keys.
    nul_in_a_key = "\\u0000" in json.dumps(body)
    if names_a_message or nul_in_a_key or (case.query or {}).get("before") is not None:
        skipped.append(positive_data_acceptance)
    return skipped


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_as_documented(case, fuzzer):
    case.call_and_validate(excluded_checks=checks_to_skip(case))


def test_sequences_that_follow_the_documents_links_answer_as_documented(fuzzer):
    class Client(schema.as_state_machine()):
        def setup(self):
            # Every scenario starts from an empty account: Hypothesis replays
            # scenarios, and a replay must meet the same responses.
            with current.app.app_context():
                db.session.execute(delete(Conversation))
                db.session.commit()

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, excluded_checks=checks_to_skip(case), transport_kwargs=kwargs)

    Client.run(settings=settings(SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO))
