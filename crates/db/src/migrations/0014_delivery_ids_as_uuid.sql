-- A delivery's id kept as its 128 bits (`uuid`), where it was its text: `dlv_` and 32
-- hex digits, 37 bytes in the row and in each of the five indexes that hold it (the
-- key, the three lists, the unsettled list), 16 as a uuid. Every id hookpost ever made
-- has that form (crates/core/src/delivery.rs); the API still shows `dlv_` and the hex
-- (crates/db/src/id_keys.rs).
--
-- In the same rewrite, an attempt's signature headers kept as the MACs they carry
-- (crates/db/src/signature_macs.rs): `sha1=` and 40 hex digits are 20 bytes, and each
-- `v1,` and 44 base64 digits of `webhook-signature` 32, about 40 bytes a delivery
-- less. Rows of before migration 8 keep theirs in `signatures`, as they were.
--
-- Unlike migration 13, this rewrites both tables and builds their indexes again: run
-- it at a quiet hour on a large log (README).
CREATE FUNCTION pg_temp.standard_macs(header text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT string_agg(decode(substr(e, 4), 'base64'), ''::bytea ORDER BY n)
          FROM unnest(string_to_array(header, ' ')) WITH ORDINALITY AS t(e, n) $$;
ALTER TABLE deliveries
    ALTER COLUMN id TYPE uuid USING substr(id, 5)::uuid,
    ALTER COLUMN first_sig_sha1 TYPE bytea USING decode(substr(first_sig_sha1, 6), 'hex'),
    ALTER COLUMN first_sig_sha1_previous TYPE bytea
        USING decode(substr(first_sig_sha1_previous, 6), 'hex'),
    ALTER COLUMN first_sig_standard TYPE bytea USING pg_temp.standard_macs(first_sig_standard);
ALTER TABLE attempts
    ALTER COLUMN delivery_id TYPE uuid USING substr(delivery_id, 5)::uuid,
    ALTER COLUMN sig_sha1 TYPE bytea USING decode(substr(sig_sha1, 6), 'hex'),
    ALTER COLUMN sig_sha1_previous TYPE bytea USING decode(substr(sig_sha1_previous, 6), 'hex'),
    ALTER COLUMN sig_standard TYPE bytea USING pg_temp.standard_macs(sig_standard);
DROP FUNCTION pg_temp.standard_macs(text);
