"""The committed openapi.yaml is valid and is what the code generates now."""

from webcare.api.schema import SCHEMA_FILE, generate


def test_the_committed_schema_is_valid_and_current():
    # generate() refuses any generator warning and validates against OpenAPI 3.
    current = generate()
    committed = SCHEMA_FILE.read_bytes()
    assert committed == current, (
        "openapi.yaml is out of date; regenerate it with: .venv/bin/python manage.py "
        'shell -c "from webcare.api.schema import write; write()"'
    )


def test_the_schema_documents_auth_pagination_and_idempotency():
    text = generate().decode()
    assert "apiClientToken" in text
    assert "next_cursor" in text
    assert "Idempotency-Key" in text
    assert "/api/v1/cases/{id}/escalate/" in text


def test_the_schema_and_docs_are_served_to_clients_and_staff(reader, staff_http):
    response = reader.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/cases/" in response.content
    assert staff_http.get("/api/v1/docs/").status_code == 200
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/schema/").status_code == 401
