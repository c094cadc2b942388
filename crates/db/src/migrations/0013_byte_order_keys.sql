-- The log's key columns compared byte by byte (collation "C"). Under the database's
-- collation (C.UTF-8, en_US.UTF-8, ...) every comparison of two different texts in an
-- index goes through the C library's strcoll, and a delivery's write makes a few
-- hundred of them across its keys and indexes (random ids in the primary keys, event
-- ids, hook ids). Bytewise, PostgreSQL compares with memcmp: 2-3 µs of its CPU a row
-- less on such a table alone, about 1.2 µs a delivery end to end (docs/benchmarks.md). Ids are ASCII, and the lists order by time
-- and then id, so no list changes its order. Only the collation changes: no table is
-- rewritten, but every index holding one of these columns is built again, which takes
-- as long as building it anew (README, PostgreSQL → Schema).
ALTER TABLE events
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE deliveries
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN hook_id TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C";
ALTER TABLE attempts
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C";
ALTER TABLE hook_snapshots
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN hook_id TYPE text COLLATE "C";
