-- The log's list indexes in ascending order. Rows arrive in time order, so each new
-- entry of a descending index was the smallest of its list, inserted at the index's
-- left end; a B-tree splits such a page half and half and never fills the left half
-- again, which left these indexes about half empty (1.75x the size, measured). In
-- ascending order each new entry is the largest and lands at the right end, where a
-- split keeps pages full. The lists still read newest first: PostgreSQL scans a
-- B-tree backwards as fast as forwards, row comparisons on the keyset included.
DROP INDEX deliveries_by_time;
DROP INDEX deliveries_by_hook;
DROP INDEX deliveries_by_type;
DROP INDEX deliveries_unsettled;
CREATE INDEX deliveries_by_time ON deliveries (tenant_id, created_at, id);
CREATE INDEX deliveries_by_hook ON deliveries (tenant_id, hook_id, created_at, id);
CREATE INDEX deliveries_by_type ON deliveries (tenant_id, type, created_at, id);
CREATE INDEX deliveries_unsettled ON deliveries (tenant_id, status, created_at, id)
    WHERE status <> 'delivered';
