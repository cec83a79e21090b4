-- Operators correct reads (issue 18): the read's plate text becomes the corrected text, the
-- text the edge read is kept in read_text (set by the first correction, never overwritten),
-- with who corrected it and when. read_corrections is the audit of every correction made
-- through the web views, written when it is sent, whether or not a projection applied it yet.

ALTER TABLE plate_reads
    ADD COLUMN IF NOT EXISTS read_text    text,
    ADD COLUMN IF NOT EXISTS corrected_by text,
    ADD COLUMN IF NOT EXISTS corrected_at timestamptz;
ALTER TABLE retained_reads
    ADD COLUMN IF NOT EXISTS read_text    text,
    ADD COLUMN IF NOT EXISTS corrected_by text,
    ADD COLUMN IF NOT EXISTS corrected_at timestamptz;

CREATE INDEX IF NOT EXISTS plate_reads_corrected_idx ON plate_reads (corrected_at DESC)
    WHERE corrected_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS read_corrections (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    correction_id  text NOT NULL UNIQUE,
    corrected_at   timestamptz NOT NULL,
    event_id       text NOT NULL,
    captured_at    timestamptz NOT NULL,
    key_id         text NOT NULL,
    actor          text NOT NULL,
    old_text       text NOT NULL,
    new_text       text NOT NULL,
    new_plate      text NOT NULL,
    reason         text NOT NULL CHECK (length(btrim(reason)) > 0),
    plate_crop_key text,
    client_addr    inet
);
CREATE INDEX IF NOT EXISTS read_corrections_event_idx ON read_corrections (event_id, id DESC);
CREATE INDEX IF NOT EXISTS read_corrections_time_idx ON read_corrections (corrected_at DESC);
