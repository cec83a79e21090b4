-- Reads carry the vehicle's body colour as the edge named it (issue 20: the console searches
-- it). Additive: reads stored before have none (NULL), as do reads of edges older than the
-- field. retained_reads takes the column too, at the end of both tables, so retention's
-- INSERT ... SELECT r.* keeps lining their columns up.

ALTER TABLE plate_reads ADD COLUMN IF NOT EXISTS vehicle_colour text;
ALTER TABLE retained_reads ADD COLUMN IF NOT EXISTS vehicle_colour text;
