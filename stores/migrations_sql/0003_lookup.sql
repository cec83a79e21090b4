-- Plate lookups: the distinct plates with their OCR search keys, kept by a trigger on the
-- reads, and the acknowledgement of alerts by an operator.
--
-- Fuzzy search finds plates whose search key is within one plain edit of the query's: the
-- service lists those keys (a few hundred) and probes plate_keys' search-key index, which is
-- exact (no match is missed) and fast at any size; levenshtein (fuzzystrmatch) re-checks the
-- distance in the store. Figures (sightings, last seen) are read from plate_reads' own
-- (plate, captured_at) index at query time, so dropping a day's partition needs no bookkeeping.

CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

CREATE TABLE IF NOT EXISTS plate_keys (
    plate       text COLLATE "C" PRIMARY KEY,
    search_key  text COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS plate_keys_search_key_idx ON plate_keys (search_key);

INSERT INTO plate_keys (plate, search_key)
SELECT plate, min(search_key) FROM (
    SELECT plate, search_key FROM plate_reads
    UNION ALL
    SELECT plate, search_key FROM retained_reads
) AS every_read
GROUP BY plate
ON CONFLICT DO NOTHING;

-- Native partitioned tables take a statement trigger with a transition table: one insert of
-- the batch's distinct plates per write, not one per row. TimescaleDB hypertables do not
-- support transition tables, so there a row trigger does the same.
CREATE OR REPLACE FUNCTION plate_keys_add_batch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO plate_keys (plate, search_key)
    SELECT DISTINCT plate, search_key FROM new_reads ORDER BY plate
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION plate_keys_add_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO plate_keys (plate, search_key) VALUES (NEW.plate, NEW.search_key)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;

DO $do$
BEGIN
    IF (SELECT mode FROM storage_mode) = 'timescale' THEN
        CREATE OR REPLACE TRIGGER plate_reads_keys AFTER INSERT ON plate_reads
            FOR EACH ROW EXECUTE FUNCTION plate_keys_add_row();
    ELSE
        CREATE OR REPLACE TRIGGER plate_reads_keys AFTER INSERT ON plate_reads
            REFERENCING NEW TABLE AS new_reads
            FOR EACH STATEMENT EXECUTE FUNCTION plate_keys_add_batch();
    END IF;
END
$do$;

CREATE OR REPLACE TRIGGER retained_reads_keys AFTER INSERT ON retained_reads
    REFERENCING NEW TABLE AS new_reads
    FOR EACH STATEMENT EXECUTE FUNCTION plate_keys_add_batch();

-- Events filtered by time alone walk plate_reads_recent_idx; by camera, plate_reads_camera_idx.
-- A read by its id (image redirects) uses the primary key (event_id, captured_at).

ALTER TABLE alerts
    ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz,
    ADD COLUMN IF NOT EXISTS acknowledged_by text,
    ADD COLUMN IF NOT EXISTS ack_note text;
CREATE INDEX IF NOT EXISTS alerts_open_idx ON alerts (raised_at DESC) WHERE acknowledged_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_rule_idx ON alerts (rule_id, raised_at DESC);
