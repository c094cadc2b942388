-- A delivery's id kept as its 128 bits (`uuid`), where it was its text: `dlv_` and 32
-- hex digits, 37 bytes in the row and in each of the five indexes that hold it (the
-- key, the three lists, the unsettled list), 16 as a uuid. Every id hookpost ever made
-- has that form (crates/core/src/delivery.rs); the API still shows `dlv_` and the hex
-- (crates/db/src/delivery_key.rs). Unlike migration 13, this rewrites both tables and
-- builds their indexes again: run it at a quiet hour on a large log (README).
ALTER TABLE deliveries ALTER COLUMN id TYPE uuid USING substr(id, 5)::uuid;
ALTER TABLE attempts ALTER COLUMN delivery_id TYPE uuid USING substr(delivery_id, 5)::uuid;
