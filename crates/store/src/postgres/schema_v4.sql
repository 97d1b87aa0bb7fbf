-- fcnsweep on PostgreSQL, schema version 4: the optimizer registry; see sqlite/schema_v4.sql.
-- New axis columns are added on open by the code that lists the axes.
SELECT 1;
