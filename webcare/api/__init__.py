"""The REST platform every app uses (/api/v1/).

Token authentication and scopes (`auth`), API clients and their admin, idempotent
POSTs (`idempotency`), keyset pagination for sync (`pagination`), the audit log of
client writes, signed webhooks with their durable deliveries (`webhooks`, `tasks`),
what every endpoint shares (`views.ApiViewSetMixin`, `filters`), the one `router`,
and the OpenAPI schema and its docs page (`schema`, `urls`).

Each app keeps its own endpoints in its `api` package and registers them with
`webcare.api.router.router`; this app imports those packages once, when Django is
ready, as the admin does with `admin` modules.
"""
