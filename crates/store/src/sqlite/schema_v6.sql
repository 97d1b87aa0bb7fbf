-- fcnsweep database, schema version 6: checkpoints, and trials that kill their process.
--
-- A running trial records, with each epoch it commits, the checkpoint that resumes it after
-- that epoch (a safetensors file in the checkpoint directory, named by trial and epoch, and
-- its SHA-256). A reclaimed trial keeps its epochs up to its checkpoint and continues there.
-- A trial whose process dies `max_attempts` times in a row without a new checkpoint is
-- marked failed.

ALTER TABLE trials ADD COLUMN checkpoint_epoch INTEGER;        -- epochs the last checkpoint covers
ALTER TABLE trials ADD COLUMN checkpoint_sha256 TEXT;          -- SHA-256 of that file
ALTER TABLE trials ADD COLUMN claim_checkpoint_epoch INTEGER;  -- checkpoint_epoch when last claimed
ALTER TABLE trials ADD COLUMN stalled_deaths INTEGER NOT NULL DEFAULT 0;  -- deaths without progress, in a row
ALTER TABLE trials ADD COLUMN deaths TEXT;                     -- where those deaths happened
ALTER TABLE trials ADD COLUMN epochs_trained INTEGER NOT NULL DEFAULT 0;  -- epochs committed over all attempts
