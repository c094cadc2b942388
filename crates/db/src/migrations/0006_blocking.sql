-- A failed delivery of an ordered hook that holds its ordering key until it is resent
-- and delivered, or skipped. Redis keeps the keys' turns; this is what gives a blocked
-- key back when Redis comes back empty. (A constant default: no table rewrite.)
ALTER TABLE deliveries ADD COLUMN blocking boolean NOT NULL DEFAULT false;
