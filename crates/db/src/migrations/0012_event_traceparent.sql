-- The trace context an event came with (W3C `traceparent`), for the attempts that read
-- the event from the log: those of deliveries parked in slow hooks' backlogs, whose
-- payload Redis no longer keeps, and retries and resends once Redis let it go. NULL
-- when the producer sent none. A nullable column without a default rewrites nothing.
ALTER TABLE events ADD COLUMN traceparent text;
