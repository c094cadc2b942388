-- Tenants, their API keys (SHA-256 only) and their hooks. PostgreSQL holds the truth;
-- Redis caches them for the hot path (key lookups, the workers' hook cache), written
-- through on every change and rebuilt from here when it comes back empty.

CREATE TABLE tenants (
    id                text        PRIMARY KEY,
    name              text        NOT NULL,
    created_at        timestamptz NOT NULL,
    -- The tenant's own intake limit, when an operator set one.
    intake_per_second integer,
    intake_burst      integer
);

CREATE TABLE api_keys (
    tenant_id  text        NOT NULL,
    id         text        NOT NULL,
    prefix     text        NOT NULL,
    hash       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE hooks (
    tenant_id text NOT NULL,
    id        text NOT NULL,
    -- The hook as JSON, its secrets and header values sealed under HOOKPOST_SECRET_KEY.
    hook      text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
