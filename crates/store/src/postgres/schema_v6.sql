-- fcnsweep on PostgreSQL, schema version 6: checkpoints, and trials that kill their process.
--
-- A running trial records, with each epoch it commits, the checkpoint that resumes it after
-- that epoch (a safetensors file in the checkpoint directory, named by trial and epoch, and
-- its SHA-256). A reclaimed trial keeps its epochs up to its checkpoint and continues there.
-- A trial whose process dies `max_attempts` times in a row without a new checkpoint is
-- marked failed.

ALTER TABLE trials ADD COLUMN checkpoint_epoch BIGINT;        -- epochs the last checkpoint covers
ALTER TABLE trials ADD COLUMN checkpoint_sha256 TEXT;          -- SHA-256 of that file
ALTER TABLE trials ADD COLUMN claim_checkpoint_epoch BIGINT;  -- checkpoint_epoch when last claimed
ALTER TABLE trials ADD COLUMN stalled_deaths BIGINT NOT NULL DEFAULT 0;  -- deaths without progress, in a row
ALTER TABLE trials ADD COLUMN deaths TEXT;                     -- where those deaths happened
ALTER TABLE trials ADD COLUMN epochs_trained BIGINT NOT NULL DEFAULT 0;  -- epochs committed over all attempts

-- PostgreSQL expands `t.*` when a view is created: rebuild the views to show the new columns.
DROP VIEW config_summary;
DROP VIEW sweep_trials;

CREATE VIEW sweep_trials AS
SELECT sc.sweep_id, s.name AS sweep, t.*
FROM sweep_configs sc
JOIN sweeps s ON s.id = sc.sweep_id
JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id
JOIN trials t ON t.config_hash = sc.config_hash AND t.seed = ss.seed AND t.superseded = 0;

-- Per sweep and configuration: n finished trials, mean and sample SD (n-1) of test accuracy
-- and of final validation accuracy, and how many diverged.
CREATE VIEW config_summary AS
WITH finished AS (
    SELECT sweep_id, config_hash, status, test_acc, final_val_acc
    FROM sweep_trials WHERE status IN ('done', 'diverged')
), means AS (
    SELECT sweep_id, config_hash, count(*) AS n,
           avg(test_acc) AS test_acc_mean, avg(final_val_acc) AS val_acc_mean,
           count(*) FILTER (WHERE status = 'diverged') AS diverged
    FROM finished GROUP BY sweep_id, config_hash
), devs AS (
    SELECT f.sweep_id, f.config_hash,
           sum((f.test_acc - m.test_acc_mean) * (f.test_acc - m.test_acc_mean)) AS test_ss,
           sum((f.final_val_acc - m.val_acc_mean) * (f.final_val_acc - m.val_acc_mean)) AS val_ss
    FROM finished f JOIN means m USING (sweep_id, config_hash)
    GROUP BY f.sweep_id, f.config_hash
)
SELECT s.name AS sweep, m.config_hash, sc.baseline,
       c.hidden, c.optimizer, c.lr, c.momentum, c.weight_decay, c.dropout, c.init, c.init_std,
       c.norm, c.epochs, c.lr_schedule, c.batch_size, c.train_subset,
       m.n, m.test_acc_mean,
       CASE WHEN m.n > 1 THEN sqrt(d.test_ss / (m.n - 1)) END AS test_acc_sd,
       m.val_acc_mean,
       CASE WHEN m.n > 1 THEN sqrt(d.val_ss / (m.n - 1)) END AS val_acc_sd,
       m.diverged
FROM means m
JOIN devs d USING (sweep_id, config_hash)
JOIN sweeps s ON s.id = m.sweep_id
JOIN sweep_configs sc ON sc.sweep_id = m.sweep_id AND sc.config_hash = m.config_hash
JOIN configs c ON c.hash = m.config_hash
ORDER BY s.name, sc.position;
