"""The OpenAPI document is valid OpenAPI 3 and describes every API route with its schemas."""

import re

from openapi_spec_validator import validate


def _spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_openapi_document_is_valid_openapi_3(client):
    spec = _spec(client)
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_api_route_is_described_in_the_openapi_document(app, client):
    spec = _spec(client)
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in the OpenAPI document"


def test_every_operation_documents_its_success_response_and_the_error_shape(client):
    spec = _spec(client)
    assert "Error" in spec["components"]["schemas"] or any("Error" in k for k in spec["components"]["schemas"])
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation["responses"]
            assert "default" in responses, f"{method} {path} lacks the error response"
            assert any(code.startswith("2") for code in responses), f"{method} {path} lacks a success response"
            assert operation.get("summary"), f"{method} {path} lacks a summary"
            if method in {"post", "patch", "put"} and "requestBody" in operation:
                assert operation["requestBody"]["content"], f"{method} {path} request body undocumented"


def test_routes_that_need_no_token_say_so_and_the_rest_require_the_bearer_scheme(client):
    spec = _spec(client)
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/auth/tokens"]["post"]["security"] == []


def test_every_operation_documents_the_servers_414_for_an_over_long_request_line(client):
    """schemathesis (make check-reliability) got gunicorn's own HTML 414 for negative inputs with
    long query strings, undocumented; the limit documented is gunicorn's default."""
    from gunicorn.config import LimitRequestLine

    from pointsbank.apispec import REQUEST_LINE_LIMIT

    spec = _spec(client)
    assert LimitRequestLine.default == REQUEST_LINE_LIMIT
    assert set(spec["components"]["responses"]["URI_TOO_LONG"]["content"]) == {"text/html"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert operation["responses"]["414"] == {"$ref": "#/components/responses/URI_TOO_LONG"}, \
                    f"{method} {path}"
