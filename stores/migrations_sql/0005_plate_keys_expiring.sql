-- Plates some of whose reads retention dropped. Their lookup keys (plate_keys) go once no
-- read of the plate is left in plate_reads or retained_reads. Retention records the plates
-- in the transaction that drops the reads and prunes their keys afterwards in small locked
-- steps (stores.retention.prune_plate_keys), so a pass that stops half-way leaves the plates
-- here for the next pass to finish.

CREATE TABLE IF NOT EXISTS plate_keys_expiring (
    plate  text COLLATE "C" PRIMARY KEY
);
