"""``swarm init``: the starter scenario, scenarios from OpenAPI documents, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from framework.cli.main import main
from framework.scenario.loader import load_scenario
from framework.scenario.templates import RenderContext, compile_value

REPO = Path(__file__).resolve().parents[3]

PETSTORE = """\
openapi: 3.0.3
info: {title: Pet Store, version: "2.1"}
servers:
  - url: https://{region}.pets.example/v2
    variables: {region: {default: eu}}
security:
  - api_key: []
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: integer, example: 42}}
    get:
      operationId: getPet
      parameters:
        - {name: fields, in: query, required: true, schema: {type: string, enum: [all, short]}}
        - {name: verbose, in: query, schema: {type: boolean}}
        - {name: X-Trace, in: header, required: true, schema: {type: string, format: uuid}}
      responses:
        "200": {description: the pet}
        "404": {description: no such pet}
    delete:
      security: [{bearer: []}]
      responses:
        "204": {description: gone}
  /pets:
    post:
      operationId: addPet
      security: [{basic: []}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        2XX: {description: made}
  /owners/{name}/photo:
    put:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          image/png: {schema: {type: string, format: binary}}
      responses:
        "200": {description: stored}
  /search:
    post:
      operationId: search
      security: []
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties: {q: {type: string, example: "{{ not a template }} ${NOT_A_VAR}"}}
      responses:
        "200": {description: found}
components:
  securitySchemes:
    api_key: {type: apiKey, in: header, name: X-API-Key}
    bearer: {type: http, scheme: bearer}
    basic: {type: http, scheme: basic}
  schemas:
    Pet:
      type: object
      required: [name, kind]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, example: Rex}
        kind: {type: string, enum: [dog, cat]}
        born: {type: string, format: date}
"""


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _init(*args: str) -> int:
    return main(["init", *args])


def _requests(path: Path) -> dict[str, dict]:
    data = yaml.safe_load(path.read_text())
    return {r["name"]: r for r in data["users"][0]["requests"]}


def test_plain_init_writes_a_commented_starter_that_validates(cwd, capsys):
    assert _init() == 0
    text = (cwd / "scenario.yaml").read_text()
    assert text.startswith("# A swarm scenario")
    loaded = load_scenario(cwd / "scenario.yaml", env={})
    assert [r.name for r in loaded.scenario.users[0].requests] == ["detect", "health"]
    assert "wrote scenario.yaml" in capsys.readouterr().out


def test_init_refuses_to_overwrite_without_force(cwd, capsys):
    (cwd / "scenario.yaml").write_text("mine\n")
    assert _init() == 2
    assert "scenario.yaml exists; pass --force" in capsys.readouterr().err
    assert (cwd / "scenario.yaml").read_text() == "mine\n"
    assert _init("--force") == 0
    assert (cwd / "scenario.yaml").read_text().startswith("# A swarm scenario")
    assert [p.name for p in cwd.iterdir()] == ["scenario.yaml"]  # no temporary left


def test_a_scenario_from_openapi_has_one_request_per_operation(cwd, capsys):
    (cwd / "pets.yaml").write_text(PETSTORE)
    assert _init("--from-openapi", "pets.yaml") == 0
    out, err = capsys.readouterr()
    target = cwd / "pet-store.yaml"
    text = target.read_text()
    assert text.startswith("# Made by `swarm init --from-openapi pets.yaml`: Pet Store 2.1")
    requests = _requests(target)
    assert list(requests) == ["getPet", "DELETE /pets/{petId}", "addPet", "search"]
    assert "PUT /owners/{name}/photo: skipped, its request body is image/png" in err
    assert "3 requests" not in out and "4 requests from pets.yaml (1 operations skipped)" in out
    data = yaml.safe_load(text)
    assert data["host"] == "${TARGET_URL:-https://eu.pets.example/v2}"
    assert data["load"] == {"shape": "constant", "users": 3, "spawn_rate": 3, "duration": "1m"}


def test_path_parameters_become_templates_and_required_parameters_are_sent(cwd):
    (cwd / "pets.yaml").write_text(PETSTORE)
    assert _init("--from-openapi", "pets.yaml", "-o", "s.yaml") == 0
    get_pet = _requests(cwd / "s.yaml")["getPet"]
    assert get_pet["path"] == "/pets/{{ 42 }}"
    assert get_pet["query"] == {"fields": "all"}  # required only; the enum's first value
    assert get_pet["headers"]["X-Trace"] == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert get_pet["expect"] == {"status": 200}


def test_security_schemes_become_secret_variables(cwd, capsys):
    (cwd / "pets.yaml").write_text(PETSTORE)
    assert _init("--from-openapi", "pets.yaml", "-o", "s.yaml") == 0
    assert "set before a run: API_KEY, BEARER, BASIC" in capsys.readouterr().out
    requests = _requests(cwd / "s.yaml")
    assert requests["getPet"]["headers"]["X-API-Key"] == "${API_KEY}"  # the document's
    assert requests["DELETE /pets/{petId}"]["headers"] == {"Authorization": "Bearer ${BEARER}"}
    assert requests["addPet"]["headers"] == {"Authorization": "Basic ${BASIC}"}
    assert "headers" not in requests["search"] or "Authorization" not in requests["search"]
    secret = "k-123456"
    loaded = load_scenario(
        cwd / "s.yaml", env={"API_KEY": secret, "BEARER": "b-123456", "BASIC": "c-123456"}
    )
    assert secret in loaded.secrets
    assert secret not in json.dumps(loaded.redacted)


def test_bodies_come_from_the_schema_and_literal_braces_stay_literal(cwd):
    (cwd / "pets.yaml").write_text(PETSTORE)
    assert _init("--from-openapi", "pets.yaml", "-o", "s.yaml") == 0
    requests = _requests(cwd / "s.yaml")
    assert requests["addPet"]["json"] == {"name": "Rex", "kind": "dog", "born": "2024-01-01"}
    assert requests["addPet"]["expect"] == {"status": "2xx"}
    assert requests["DELETE /pets/{petId}"]["expect"] == {"status": 204}
    search = requests["search"]
    assert search["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    loaded = load_scenario(cwd / "s.yaml", env={"API_KEY": "a", "BEARER": "b", "BASIC": "c"})
    body = next(r for r in loaded.scenario.users[0].requests if r.name == "search").body
    rendered = compile_value(body)(RenderContext(user_id=1, sources={}, claimed={}))
    assert rendered == "q=%7B%7B+not+a+template+%7D%7D+%24%7BNOT_A_VAR%7D"


def test_the_mock_detectors_description_makes_a_valid_scenario(cwd, capsys):
    spec = REPO / "mock_detectors" / "openapi.yaml"
    assert _init("--from-openapi", str(spec), "-o", "mocks.yaml") == 0
    requests = _requests(cwd / "mocks.yaml")
    assert list(requests) == [
        "detect", "detect_batch", "health", "metrics", "get_fault", "put_fault", "clear_fault",
        "get_queue",
    ]  # fmt: skip
    assert requests["put_fault"]["json"] == {"duration_s": 1, "added_latency_ms": 5}
    assert all("headers" not in r for r in requests.values())  # the admin token is optional
    assert "Authorization: 'Bearer ${ADMIN_BEARER}'" in (cwd / "mocks.yaml").read_text()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("openapi: 3.0.3\ninfo: {title: x\n  version: 1}\n", "a.yaml", "a.yaml:3:10: "),
        ('{"openapi": "3.0.3",\n "info": {,}}', "a.json", "a.json:2:11: invalid JSON"),
        ('swagger: "2.0"\ninfo: {title: x}\n', "a.yaml", "a.yaml:1: this is a Swagger 2.0"),
        ("name: smoke\nusers: []\n", "a.yaml", "a.yaml:1: not an OpenAPI document"),
        ("openapi: 3.0\ninfo: {}\n", "a.yaml", "a.yaml:1: openapi must be a string"),
        ("openapi: '4.0.0'\n", "a.yaml", "allowed: 3.0.x, 3.1.x"),
        ("- 1\n", "a.yaml", "a.yaml:1: not an OpenAPI document: the file holds a list"),
        ("", "a.yaml", "a.yaml:1: the file is empty"),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n"
            "      responses:\n        999x: {description: no}\n",
            "a.yaml",
            "a.yaml:6: paths./a.get.responses: invalid OpenAPI: Unevaluated properties",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a/{id}:\n    get:\n"
            "      responses: {'200': {description: ok}}\n",
            "a.yaml",
            "a.yaml:4: paths./a/{id}: invalid OpenAPI: Path parameter 'id'",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    post:\n"
            "      requestBody: {content: {application/json: {schema: {$ref: '#/nope'}}}}\n"
            "      responses: {'200': {description: ok}}\n",
            "a.yaml",
            "a.yaml:6: paths./a.post.requestBody.content.application/json.schema.$ref: $ref "
            "'#/nope' cannot be resolved",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n"
            "      parameters: [{name: q, in: query, schema: {$ref: 'https://x.test/s.yaml'}}]\n"
            "      responses: {'200': {description: ok}}\n",
            "a.yaml",
            "it fetches nothing from the network",
        ),
    ],
)
def test_documents_that_are_not_valid_openapi_exit_2_with_their_line(
    cwd, capsys, text, name, expected
):
    (cwd / name).write_text(text)
    assert _init("--from-openapi", name, "-o", "out.yaml") == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
    assert not (cwd / "out.yaml").exists()
    assert sorted(p.name for p in cwd.iterdir()) == [name]


def test_a_missing_document_and_a_document_with_nothing_to_send_exit_2(cwd, capsys):
    assert _init("--from-openapi", "nope.yaml") == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
    (cwd / "up.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /up:\n    post:\n"
        "      requestBody:\n        required: true\n"
        "        content: {multipart/form-data: {schema: {type: object}}}\n"
        "      responses: {'200': {description: ok}}\n"
    )
    assert _init("--from-openapi", "up.yaml") == 2
    assert "no operation to request: POST /up: skipped" in capsys.readouterr().err
    assert sorted(p.name for p in cwd.iterdir()) == ["up.yaml"]


def test_a_json_document_with_refs_to_a_file_beside_it(cwd):
    (cwd / "schemas.yaml").write_text("Item: {type: object, properties: {n: {type: integer}}}\n")
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "Files", "version": "1"},
        "servers": [{"url": "/api"}],
        "paths": {
            "/items": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "schemas.yaml#/Item"}}}
                    },
                    "responses": {"201": {"description": "made"}},
                }
            }
        },
    }
    (cwd / "api.json").write_text(json.dumps(spec, indent="\t"))
    assert _init("--from-openapi", "api.json") == 0
    data = yaml.safe_load((cwd / "files.yaml").read_text())
    assert data["host"] == "${TARGET_URL:-http://localhost:8080/api}"
    assert data["users"][0]["requests"][0]["json"] == {"n": 1}


def test_a_scenario_past_the_scenario_limits_says_which_limit_and_is_not_written(
    cwd, capsys, monkeypatch
):
    (cwd / "pets.yaml").write_text(PETSTORE)
    monkeypatch.setenv("SWARM_MAX_YAML_BYTES", "1KiB")
    assert _init("--from-openapi", "pets.yaml", "-o", "s.yaml") == 2
    err = capsys.readouterr().err
    assert "the scenario made for s.yaml is larger than a scenario may be" in err
    assert "SWARM_MAX_YAML_BYTES=" in err and "bug" not in err
    assert sorted(p.name for p in cwd.iterdir()) == ["pets.yaml"]
