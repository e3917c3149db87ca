"""The OpenAPI document stays true to the routes it describes."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import schemathesis

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def api_routes(app) -> dict[str, set[str]]:
    """{OpenAPI path: methods} for every /api rule (HEAD and OPTIONS are Flask's)."""
    routes: dict[str, set[str]] = defaultdict(set)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes[path] |= {method.lower() for method in rule.methods - {"HEAD", "OPTIONS"}}
    return dict(routes)


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_document_describes_exactly_the_apis_routes(app, document):
    documented: dict[str, set[str]] = defaultdict(set)
    for path, method, _ in operations(document):
        documented[path].add(method)
    assert dict(documented) == api_routes(app)


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.1 meta-schema


def test_every_operation_has_a_unique_id(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_every_path_parameter_is_declared(document):
    for path, item in document["paths"].items():
        declared = {p["$ref"].rsplit("/", 1)[-1] for p in item.get("parameters", [])}
        names = {document["components"]["parameters"][ref]["name"] for ref in declared}
        assert names == set(re.findall(r"{([^}]+)}", path)), path


def test_every_operation_needing_credentials_documents_401_and_writes_document_429(document):
    for path, method, operation in operations(document):
        if operation.get("security") == []:
            continue
        assert "401" in operation["responses"], (method, path)
        if method != "get":
            assert {"403", "429"} <= set(operation["responses"]), (method, path)


def test_the_links_lead_to_operations_that_exist(document):
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids


def test_the_cookie_scheme_names_the_configured_session_cookie(make_app):
    app = make_app(SESSION_COOKIE_NAME="parley_session")
    schemes = app.test_client().get("/api/openapi.json").json["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "in": "cookie", "name": "parley_session"}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
