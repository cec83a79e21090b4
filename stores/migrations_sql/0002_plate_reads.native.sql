-- Plate reads, natively range-partitioned by day (TimescaleDB is not installed).
-- Daily partitions plate_reads_pYYYYMMDD are created ahead by the project (stores.partitions),
-- and on demand by the writer for a day that has none. The hourly rollup is a plain table the
-- writer maintains in the same statement as the insert, counting only rows really inserted.

CREATE TABLE plate_reads (
    event_id          text NOT NULL,
    captured_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    site_id           text NOT NULL,
    camera_id         text NOT NULL,
    plate             text NOT NULL,
    plate_text        text NOT NULL,
    search_key        text NOT NULL,
    plate_confidence  real NOT NULL,
    char_confidences  real[] NOT NULL,
    region            text,
    plate_box         integer[] NOT NULL,
    vehicle_box       integer[],
    vehicle_type      text,
    direction         text NOT NULL,
    track_id          bigint NOT NULL,
    frames_agreed     integer NOT NULL,
    plate_crop_key    text,
    vehicle_image_key text,
    model_versions    jsonb NOT NULL,
    edge_version      text NOT NULL,
    lat               double precision,
    lon               double precision,
    camera_known      boolean NOT NULL,
    camera_name       text,
    camera_zone       text,
    PRIMARY KEY (event_id, captured_at)
) PARTITION BY RANGE (captured_at);

-- A plate's history, a camera's reads over time, the most recent reads.
CREATE INDEX plate_reads_plate_idx ON plate_reads (plate, captured_at DESC);
CREATE INDEX plate_reads_camera_idx ON plate_reads (camera_id, captured_at DESC);
CREATE INDEX plate_reads_recent_idx ON plate_reads (captured_at DESC);

CREATE TABLE plate_reads_hourly (
    camera_id  text NOT NULL,
    hour       timestamptz NOT NULL,
    reads      bigint NOT NULL CHECK (reads >= 0),
    PRIMARY KEY (camera_id, hour)
);
CREATE INDEX plate_reads_hourly_hour_idx ON plate_reads_hourly (hour DESC);

-- Reads linked to an alert, copied here before their partition is dropped, kept alert_days.
CREATE TABLE retained_reads (LIKE plate_reads INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE retained_reads ADD PRIMARY KEY (event_id, captured_at);
CREATE INDEX retained_reads_plate_idx ON retained_reads (plate, captured_at DESC);
