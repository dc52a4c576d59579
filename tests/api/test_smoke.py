from tests.servers import Tenant


def test_tenant_admin_creates_and_reads_a_webhook(tenant: Tenant) -> None:
    admin = tenant.client()
    body = {
        "name": "a",
        "url": "https://hooks.example.com/x",
        "eventTypes": ["com.qlik.v1.app.created"],
    }
    created = admin.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201, created.text
    got = admin.get(f"/api/v1/webhooks/{created.json()['id']}")
    assert got.json() == created.json()
