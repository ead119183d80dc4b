"""The public vocabulary endpoints, through the real application."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.vocab.registry import all_vocabularies, get_vocabulary

BASE = "/api/v1/vocabularies"


def test_list_gives_ids_versions_and_term_counts(client: TestClient) -> None:
    r = client.get(BASE)
    assert r.status_code == 200
    listed = {v["id"]: v for v in r.json()["vocabularies"]}
    assert set(listed) == {v.id for v in all_vocabularies()}
    act = listed["act_type"]
    assert act["version"] == get_vocabulary("act_type").version >= 1
    assert act["hierarchical"] is False
    assert act["term_count"] == len(get_vocabulary("act_type").terms)
    assert act["name"]["uk"] == "Тип дії"


def test_read_in_each_language(client: TestClient) -> None:
    r = client.get(f"{BASE}/act_type", params={"lang": "be"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["lang"], body["name"]) == ("act_type", "be", "Тып дзеяння")
    arrest = body["terms"][0]
    assert arrest == {"code": "arrest", "huri_code": "030101000000", "label": "Затрыманне",
                      "parent": None, "local": False, "deprecated": False, "replaces": [],
                      "notes": None, "attributes": {}}
    assert client.get(f"{BASE}/act_type").json()["terms"][0]["label"] == "Arrest"


def test_read_shows_hierarchy_and_renumbering(client: TestClient) -> None:
    terms = {t["code"]: t for t in client.get(f"{BASE}/torture_method?lang=ru").json()["terms"]}
    assert terms["forced_kneeling"]["parent"] == "forced_postures"
    legal = {t["code"]: t for t in client.get(f"{BASE}/legal_basis").json()["terms"]}
    assert legal["cao_24_23"]["replaces"] == ["cao_23_34"]


def test_uwazi_export(client: TestClient) -> None:
    r = client.get(f"{BASE}/perpetrator_type/uwazi", params={"lang": "uk"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Тип порушника"
    assert body["values"][0]["id"] == "police-group"
    assert [v["id"] for v in body["values"][0]["values"]] == ["police", "omon", "gubopik"]
    flat = next(e for e in body["values"] if e["id"] == "judiciary")
    assert flat == {"id": "judiciary", "label": "Судова влада"}


def test_unknown_vocabulary_is_404_in_the_error_shape(client: TestClient) -> None:
    for path in (f"{BASE}/no_such", f"{BASE}/no_such/uwazi"):
        r = client.get(path)
        assert r.status_code == 404
        error = r.json()["error"]
        assert error["code"] == "not_found"
        assert "act_type" in error["details"]["available"]


def test_unknown_language_is_a_clear_422(client: TestClient) -> None:
    for path in (f"{BASE}/act_type", f"{BASE}/act_type/uwazi"):
        r = client.get(path, params={"lang": "fr"})
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        [field] = error["details"]["fields"]
        assert field["path"] == "query.lang"
        assert all(lang in field["message"] for lang in ("en", "be", "ru", "uk"))


def test_endpoints_need_no_authentication_and_document_their_errors(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in (f"{BASE}/{{vocab_id}}", f"{BASE}/{{vocab_id}}/uwazi"):
        operation = spec["paths"][path]["get"]
        assert {"200", "404", "422"} <= set(operation["responses"])
        assert not operation.get("security")
    assert not spec["paths"][BASE]["get"].get("security")


def test_named_facilities_carry_their_oblast_and_type(client: TestClient) -> None:
    r = client.get(f"{BASE}/facility", params={"lang": "be"})
    assert r.status_code == 200, r.text
    terms = {t["code"]: t for t in r.json()["terms"]}
    assert terms["tsip_akrestsina_minsk"]["attributes"] == {"region": "BY-HM",
                                                            "facility_type": "tsip"}
    assert terms["tsip_akrestsina_minsk"]["label"] == "ЦІП на вуліцы Акрэсціна, Мінск"
    assert terms["prison_4_mogilev"]["attributes"] == {"region": "BY-MA",
                                                       "facility_type": "prison"}
    assert terms["unknown"]["attributes"] == {}
