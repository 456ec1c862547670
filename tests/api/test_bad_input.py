"""Bad input to every write route answers 400 naming the field — never 500, never a change.

Driven by the OpenAPI document, so routes added later are covered without editing this file:
for each JSON request body it sends unknown fields, wrong types, missing required fields,
oversize strings, invalid UTF-8 and non-JSON; for each query parameter, a wrong type.
"""

from __future__ import annotations

import re

import pytest

from pointsbank.auth.policy import roles_of

PREFERRED = ("staff_a", "admin", "grid_a", "resident_a1", "cashier_a")
WRONG = {"string": 12345, "integer": "not-a-number", "boolean": "maybe", "array": "not-a-list", "object": 7,
         "number": "NaN-ish"}


def _operations(app, spec):
    """(method, path template, operation, caller) for every documented operation that has a caller."""
    rules = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            rules[re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)] = rule
    for path, item in spec["paths"].items():
        rule = rules.get(path)
        if rule is None:
            continue
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            roles, is_public = roles_of(app.view_functions[rule.endpoint], method)
            caller = next((r for r in PREFERRED if roles and r.split("_")[0] in roles or
                           (roles and r == "grid_a" and "grid_worker" in roles)), None)
            if is_public:
                caller = None
            yield method.upper(), path, operation, caller


def _schema(spec, ref_or_schema):
    if "$ref" in ref_or_schema:
        return spec["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    return ref_or_schema


def _url(path, world):
    values = {"community_id": world["alpha"], "household_id": world["a1"], "shop_id": world["shop_a"]}
    return re.sub(r"\{([a-z_]+)\}", lambda m: str(values.get(m.group(1), 1)), path)


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def _fields(response):
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    return error["details"].get("fields", {})


def test_every_json_write_route_refuses_bad_bodies_with_400_naming_the_field(app, client, world, spec):
    checked = 0
    for method, path, operation, caller in _operations(app, spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = _schema(spec, content["application/json"]["schema"])
        headers = world.headers(caller) if caller else {}
        url = _url(path, world)
        where = f"{method} {path}"

        assert "zz_unknown" in _fields(client.open(url, method=method, headers=headers, json={"zz_unknown": 1})), where
        for name, prop in schema.get("properties", {}).items():
            prop = _schema(spec, prop)
            if prop.get("readOnly"):
                continue
            kind = prop.get("type")
            if kind in WRONG:
                fields = _fields(client.open(url, method=method, headers=headers, json={name: WRONG[kind]}))
                assert name in fields, f"{where}: wrong type for {name} not named: {fields}"
            if kind == "string" and "maxLength" in prop:
                fields = _fields(client.open(url, method=method, headers=headers,
                                             json={name: "长" * (prop["maxLength"] + 1)}))
                assert name in fields, f"{where}: oversize {name} not named"
        required = schema.get("required", [])
        if required:
            fields = _fields(client.open(url, method=method, headers=headers, json={}))
            assert set(required) <= set(fields), f"{where}: missing {set(required) - set(fields)} not named"
        response = client.open(url, method=method, headers={**headers, "Content-Type": "application/json"},
                               data=b'{"name": "\xff\xfe\xfd"}')
        assert response.status_code == 400, f"{where}: invalid UTF-8 gave {response.status_code}"
        response = client.open(url, method=method, headers={**headers, "Content-Type": "application/json"},
                               data=b"{not json")
        assert response.status_code == 400, f"{where}: malformed JSON gave {response.status_code}"
        checked += 1
    assert checked >= 5


def test_every_string_a_client_sends_has_a_length_limit(app, spec):
    for method, path, operation, _ in _operations(app, spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = _schema(spec, content["application/json"]["schema"])
        for name, prop in schema.get("properties", {}).items():
            prop = _schema(spec, prop)
            if prop.get("type") == "string" and not prop.get("readOnly"):
                assert "maxLength" in prop or "enum" in prop or "format" in prop, f"{method} {path}: {name} unbounded"
            if prop.get("type") == "array":
                assert "maxItems" in prop, f"{method} {path}: {name} array unbounded"


def test_query_parameters_of_the_wrong_type_answer_400_naming_them(app, client, world, spec):
    checked = 0
    for method, path, operation, caller in _operations(app, spec):
        if method != "GET" or caller is None:
            continue
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "query" or parameter.get("schema", {}).get("type") != "integer":
                continue
            url = _url(path, world) + f"?{parameter['name']}=abc"
            fields = _fields(client.get(url, headers=world.headers(caller)))
            assert parameter["name"] in fields, f"GET {path}: {parameter['name']}"
            checked += 1
    assert checked >= 3


def test_a_body_larger_than_the_limit_answers_413_in_the_error_shape(app, client, world):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post(f"/api/v1/communities/{world['alpha']}/households", headers=world.headers("staff_a"),
                           data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_unknown_routes_and_methods_answer_in_the_error_shape(client, world):
    response = client.get("/api/v1/nowhere", headers=world.headers("staff_a"))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.put("/api/v1/me", headers=world.headers("staff_a"))
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
