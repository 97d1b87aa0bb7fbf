-- fcnsweep database, schema version 3: learning-rate schedules.
-- Configurations stored before schedules existed trained at a constant learning rate.

ALTER TABLE configs ADD COLUMN lr_schedule TEXT NOT NULL DEFAULT 'constant';  -- 'constant' | 'cosine' | 'step'
ALTER TABLE configs ADD COLUMN lr_step_size INTEGER NOT NULL DEFAULT 10;      -- step: epochs between decays
ALTER TABLE configs ADD COLUMN lr_gamma REAL NOT NULL DEFAULT 0.1;            -- step: factor of each decay

-- The summary view gains the schedule column.
DROP VIEW config_summary;

-- Per sweep and configuration: n finished trials, mean and sample SD (n-1) of test accuracy
-- and of final validation accuracy, and how many diverged.
CREATE VIEW config_summary AS
WITH finished AS (
    SELECT sweep_id, config_hash, status, test_acc, final_val_acc
    FROM sweep_trials WHERE status IN ('done', 'diverged')
), means AS (
    SELECT sweep_id, config_hash, count(*) AS n,
           avg(test_acc) AS test_acc_mean, avg(final_val_acc) AS val_acc_mean,
           sum(status = 'diverged') AS diverged
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
