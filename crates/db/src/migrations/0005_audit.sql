-- The audit log of operators' actions (who, what, which tenant, from where, when),
-- moved here from Redis. Range-partitioned a day by `at`, like the log: retention
-- (HOOKPOST_AUDIT_RETENTION) drops whole days. Actions on no tenant are tenant_id ''.
-- Entry ids (`aud_<µs><random>`) sort by time, so a page continues after an id.
-- A tenant's list is one range of the primary key; the operators' list of every tenant
-- walks `audit_log_id` (with Citus, the one read that spans shards, by design).

CREATE TABLE audit_log (
    tenant_id  text        NOT NULL,
    id         text        NOT NULL,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text,
    client     text,
    request_id text,
    PRIMARY KEY (tenant_id, id, at)
) PARTITION BY RANGE (at);

CREATE INDEX audit_log_id ON audit_log (id);
