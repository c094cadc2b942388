-- Nearly every delivery ends `delivered`, and a list of those reads the time or hook
-- index: the status index keeps the others only. The hot path writes one index fewer,
-- and the lists of deliveries retrying, pending, failed or cancelled read a small one.
-- (Queries name the status as a literal, so that the planner can use this index.)
DROP INDEX deliveries_by_status;
CREATE INDEX deliveries_unsettled ON deliveries (tenant_id, status, created_at DESC, id DESC)
    WHERE status <> 'delivered';
