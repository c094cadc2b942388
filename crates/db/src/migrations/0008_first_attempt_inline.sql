-- A delivery's first attempt kept in its own row. Nearly every delivery is made at its
-- first attempt; a row of `attempts` for it cost a second heap tuple (its header and
-- key again) and a primary-key entry, about 200 bytes and an index insert a delivery.
-- The writer puts an attempt numbered 1 here when the row has none yet; every other
-- attempt (a retry, or an attempt made again after a requeue) goes to `attempts`, as
-- before. Reads take both. Nullable columns without a default: adding them rewrites
-- nothing, and the rows before keep their first attempt in `attempts`.
--
-- An attempt's signature headers are kept as four columns, here and in `attempts`,
-- where they were a JSON object with the four header names in every row (about 190
-- bytes; about 100 now). Rows written before keep their `signatures` object.
ALTER TABLE deliveries
    ADD COLUMN first_at                timestamptz,
    ADD COLUMN first_duration_ms       bigint,
    ADD COLUMN first_outcome           text,
    ADD COLUMN first_status            integer,
    ADD COLUMN first_error             text,
    ADD COLUMN first_response          text,
    ADD COLUMN first_retry_after_s     bigint,
    ADD COLUMN first_uuid              text,
    ADD COLUMN first_sig_sha1          text,
    ADD COLUMN first_sig_sha1_previous text,
    ADD COLUMN first_sig_timestamp     bigint,
    ADD COLUMN first_sig_standard      text;
ALTER TABLE attempts
    ADD COLUMN sig_sha1          text,
    ADD COLUMN sig_sha1_previous text,
    ADD COLUMN sig_timestamp     bigint,
    ADD COLUMN sig_standard      text;
