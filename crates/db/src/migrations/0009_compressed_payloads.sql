-- An event's payload compressed with zstd when that saves at least an eighth of it
-- (crates/db/src/payload.rs). PostgreSQL compresses nothing in a row under about 2 KB,
-- and most payloads are smaller: a 1 KiB JSON payload was about 1.2 KB of the 2.1 KB a
-- delivery took. A row holds `data` or `data_zstd`; the rows before keep `data`.
-- Dropping NOT NULL and adding a nullable column without a default rewrite nothing.
ALTER TABLE events
    ALTER COLUMN data DROP NOT NULL,
    ADD COLUMN data_zstd bytea;
