-- The deliveries an event's first sight parked in their slow hooks' backlogs, kept in
-- the event's row until their first attempts, not as a `pending` row each: a row in
-- `deliveries` costs its key and five indexes (about 24 µs of PostgreSQL's CPU), and a
-- hanging hook parks every delivery it is sent. Each entry is `[hook_id, digest, due]`
-- (its hook snapshot's digest in `hook_snapshots`, when its drain comes, in ms); one
-- that has a row of its own in `deliveries` is read from there. The partial index
-- lets a rebuild of Redis read back only the events that parked something.
ALTER TABLE events ADD COLUMN parked jsonb;
CREATE INDEX events_parked ON events (tenant_id, event_at, id) WHERE parked IS NOT NULL;
