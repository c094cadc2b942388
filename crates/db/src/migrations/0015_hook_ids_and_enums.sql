-- A hook's id in the log kept as its 128 bits (`uuid`), where it was its text: `hook_`
-- and 26 base32 digits, 31 bytes in the delivery's row and again in its list by hook,
-- 16 as a uuid. Every hook id hookpost ever made has that form
-- (crates/core/src/ids.rs); the API still shows the text (crates/db/src/id_keys.rs).
-- The base32 alphabet is in ASCII order, so the bytes compare as the text did.
--
-- A row whose hook id has another form stops the migration with that id in the error:
-- nothing is converted half way.
--
-- In the same rewrite, a delivery's status and an attempt's outcome kept as enums: 4
-- bytes where their words took up to 10 and 18 (crates/db/src/enum_columns.rs). SQL
-- names them by their words as before. The list of the statuses other than `delivered`
-- is built again, since its condition compares the column's type.
--
-- Like migration 14, this rewrites `deliveries` and `attempts` and builds their indexes
-- again: run it at a quiet hour on a large log (README).
CREATE FUNCTION pg_temp.hook_key(id text) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT CASE WHEN id ~ '^hook_[0-9a-hjkmnp-tv-z]{25}[048cgmrw]$'
                 THEN (SELECT string_agg(to_hex(substring(b FROM n * 4 + 1 FOR 4)::bit(4)::int),
                                         '' ORDER BY n)
                       FROM (SELECT string_agg(
                                 (strpos('0123456789abcdefghjkmnpqrstvwxyz', c) - 1)::bit(5)::text,
                                 '' ORDER BY i)::varbit AS b
                             FROM unnest(string_to_array(substr(id, 6), NULL))
                                  WITH ORDINALITY AS t(c, i)) bits,
                            generate_series(0, 31) AS n)
                 ELSE 'not a hook id: ' || id END::uuid $$;
CREATE TYPE delivery_status AS ENUM ('pending', 'retrying', 'delivered', 'failed', 'cancelled');
CREATE TYPE attempt_outcome AS ENUM
    ('delivered', 'http_status', 'timeout', 'connect', 'dns', 'tls', 'refused_by_policy');
DROP INDEX deliveries_unsettled;
ALTER TABLE deliveries
    ALTER COLUMN hook_id TYPE uuid USING pg_temp.hook_key(hook_id),
    ALTER COLUMN status TYPE delivery_status USING status::delivery_status,
    ALTER COLUMN first_outcome TYPE attempt_outcome USING first_outcome::attempt_outcome;
ALTER TABLE attempts ALTER COLUMN outcome TYPE attempt_outcome USING outcome::attempt_outcome;
CREATE INDEX deliveries_unsettled ON deliveries (tenant_id, status, created_at, id)
    WHERE status <> 'delivered';
ALTER TABLE hook_snapshots ALTER COLUMN hook_id TYPE uuid USING pg_temp.hook_key(hook_id);
DROP FUNCTION pg_temp.hook_key(text);
