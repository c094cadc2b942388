-- Event types as data: the deployment's global types (tenant_id '') and each tenant's
-- own, with an optional JSON Schema for `data`. A tenant sees the global types and its
-- own; one of its own with a global type's name stands in for that type, for it alone.
-- The built-in help-desk types are seeded as global types by the migration step.
-- With Citus, `event_types` is distributed by tenant_id like the rest: the global
-- types are the rows of tenant ''; each read names tenant_id in ('', $tenant).

CREATE TABLE event_types (
    tenant_id   text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    schema      jsonb,
    deprecated  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
