-- The delivery log: events (each payload stored once), deliveries (event x hook) and
-- their attempts. Every table is keyed by tenant_id first and no query reads two
-- tenants, so the schema can be distributed by tenant_id (Citus) unchanged.
--
-- All three are range-partitioned by the event's receive time (`event_at`), one
-- partition a day: a delivery and its attempts live in their event's partition, and
-- retention drops whole days (partitions.rs creates them ahead and drops old ones).

CREATE TABLE events (
    tenant_id   text        NOT NULL,
    id          text        NOT NULL,
    event_at    timestamptz NOT NULL,
    type        text        NOT NULL,
    occurred_at text,
    data        text        NOT NULL,
    PRIMARY KEY (tenant_id, id, event_at)
) PARTITION BY RANGE (event_at);

CREATE TABLE deliveries (
    tenant_id  text        NOT NULL,
    id         text        NOT NULL,
    event_at   timestamptz NOT NULL,
    event_id   text        NOT NULL,
    hook_id    text        NOT NULL,
    type       text        NOT NULL,
    status     text        NOT NULL,
    attempts   integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    next_at    timestamptz,
    -- The body's `hook` object as the first attempt sent it.
    hook       text        NOT NULL,
    PRIMARY KEY (tenant_id, id, event_at)
) PARTITION BY RANGE (event_at);

-- The log's lists, newest first, each one index: all, by hook, by status, by event type;
-- and an event's deliveries.
CREATE INDEX deliveries_by_time   ON deliveries (tenant_id, created_at DESC, id DESC);
CREATE INDEX deliveries_by_hook   ON deliveries (tenant_id, hook_id, created_at DESC, id DESC);
CREATE INDEX deliveries_by_status ON deliveries (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX deliveries_by_type   ON deliveries (tenant_id, type, created_at DESC, id DESC);
CREATE INDEX deliveries_by_event  ON deliveries (tenant_id, event_id);

CREATE TABLE attempts (
    tenant_id     text        NOT NULL,
    delivery_id   text        NOT NULL,
    event_at      timestamptz NOT NULL,
    attempt       integer     NOT NULL,
    at            timestamptz NOT NULL,
    duration_ms   bigint      NOT NULL,
    outcome       text        NOT NULL,
    status        integer,
    error         text,
    response      text,
    retry_after_s bigint,
    -- The signature headers the request went out with, and its HappyFox uuid.
    signatures    jsonb,
    uuid          text,
    -- The same attempt written twice (a retried write) is stored once; an attempt made
    -- again after a requeue (another start time) is a request of its own and is kept.
    PRIMARY KEY (tenant_id, delivery_id, attempt, at, event_at)
) PARTITION BY RANGE (event_at);
