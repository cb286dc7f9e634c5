"""The scoring service: merchants ask with a person's consent, people see and dispute their report.

Layers, each one module with one job: `store` (SQLAlchemy tables and sessions), `privacy` (HMAC
pseudonyms), `auth` (hashed merchant keys, person tokens, the operator key), `consent`, `decisions`,
`events` (fulfilment feedback and incremental re-scoring), `disputes`, `audit` (the hash-chained access
log), `scoring` (the pluggable Scorer), `report` (the person's JSON and HTML report), `app` and `routes`
(FastAPI). Nothing here stores or logs a raw person id: the edge pseudonymises it on arrival.
"""
