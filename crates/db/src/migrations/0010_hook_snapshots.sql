-- The body's `hook` object ({id, url, events}) was in every delivery's row, about 95
-- bytes and often more, the same for every delivery of a hook until the hook changes.
-- It is now kept once per hook and version, named by a 64-bit digest of its text
-- (the first 8 bytes of its SHA-256), and a delivery's row holds the digest. Rows
-- written before keep their `hook`; a row has one of the two. Snapshots are a row per
-- version of a hook, never dropped with the log's days: a delivery kept for the
-- retention may name one made long before.
CREATE TABLE hook_snapshots (
    tenant_id text   NOT NULL,
    hook_id   text   NOT NULL,
    digest    bigint NOT NULL,
    hook      text   NOT NULL,
    PRIMARY KEY (tenant_id, hook_id, digest)
);
ALTER TABLE deliveries
    ALTER COLUMN hook DROP NOT NULL,
    ADD COLUMN hook_digest bigint;
