-- Plate reads as a TimescaleDB hypertable with daily chunks, and a continuous aggregate of
-- hourly counts per camera. Same columns and indexes as the native variant. Chunks are
-- dropped by `alpr retention run` (not add_retention_policy) because reads linked to an alert
-- must first be copied to retained_reads.

CREATE EXTENSION IF NOT EXISTS timescaledb;

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
);
SELECT create_hypertable('plate_reads', 'captured_at', chunk_time_interval => interval '1 day');

CREATE INDEX plate_reads_plate_idx ON plate_reads (plate, captured_at DESC);
CREATE INDEX plate_reads_camera_idx ON plate_reads (camera_id, captured_at DESC);
CREATE INDEX plate_reads_recent_idx ON plate_reads (captured_at DESC);

CREATE MATERIALIZED VIEW plate_reads_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT camera_id, time_bucket(interval '1 hour', captured_at) AS hour, count(*) AS reads
FROM plate_reads
GROUP BY camera_id, time_bucket(interval '1 hour', captured_at)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('plate_reads_hourly',
    start_offset => interval '3 days', end_offset => interval '1 minute',
    schedule_interval => interval '1 minute');

CREATE TABLE retained_reads (LIKE plate_reads INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE retained_reads ADD PRIMARY KEY (event_id, captured_at);
CREATE INDEX retained_reads_plate_idx ON retained_reads (plate, captured_at DESC);
