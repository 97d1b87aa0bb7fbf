-- fcnsweep database, schema version 7: adaptive search and pruning.
--
-- A trial the sweep's pruner stopped early has status 'pruned': its epochs are kept, it has
-- no test metrics and it is never run again. A configuration an adaptive block (`tpe`)
-- proposed while the sweep ran records its number in the order of proposals; planned
-- configurations have none. SQLite cannot alter a CHECK constraint, so the trials table is
-- rebuilt (foreign keys are switched off around this migration, so the epochs stay).

DROP VIEW config_summary;
DROP VIEW sweep_trials;

CREATE TABLE trials_v7 (
    id              INTEGER PRIMARY KEY,
    config_hash     TEXT NOT NULL REFERENCES configs(hash),
    seed            INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'diverged', 'pruned')),
    superseded      INTEGER NOT NULL DEFAULT 0,  -- 1 once replaced by a --no-reuse rerun
    worker          TEXT,                        -- 'host:pid:nonce' of the claiming process
    host            TEXT,
    pid             INTEGER,
    claimed_at      REAL,
    heartbeat_at    REAL,
    finished_at     REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    epochs_done     INTEGER NOT NULL DEFAULT 0,
    test_loss       REAL,
    test_acc        REAL,
    final_train_loss REAL,
    final_val_loss  REAL,
    final_val_acc   REAL,
    seconds         REAL,
    error           TEXT,
    checkpoint_epoch INTEGER,                    -- epochs the last checkpoint covers
    checkpoint_sha256 TEXT,                      -- SHA-256 of that file
    claim_checkpoint_epoch INTEGER,              -- checkpoint_epoch when last claimed
    stalled_deaths  INTEGER NOT NULL DEFAULT 0,  -- deaths without progress, in a row
    deaths          TEXT,                        -- where those deaths happened
    epochs_trained  INTEGER NOT NULL DEFAULT 0   -- epochs committed over all attempts
);
INSERT INTO trials_v7 SELECT id, config_hash, seed, status, superseded, worker, host, pid,
    claimed_at, heartbeat_at, finished_at, attempts, epochs_done, test_loss, test_acc,
    final_train_loss, final_val_loss, final_val_acc, seconds, error, checkpoint_epoch,
    checkpoint_sha256, claim_checkpoint_epoch, stalled_deaths, deaths, epochs_trained
FROM trials;
DROP TABLE trials;
ALTER TABLE trials_v7 RENAME TO trials;
CREATE UNIQUE INDEX trials_current ON trials(config_hash, seed) WHERE superseded = 0;
CREATE INDEX trials_status ON trials(status);

ALTER TABLE sweep_configs ADD COLUMN proposal INTEGER;  -- order of proposal; NULL: planned

-- Every current trial of every sweep.
CREATE VIEW sweep_trials AS
SELECT sc.sweep_id, s.name AS sweep, t.*
FROM sweep_configs sc
JOIN sweeps s ON s.id = sc.sweep_id
JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id
JOIN trials t ON t.config_hash = sc.config_hash AND t.seed = ss.seed AND t.superseded = 0;

-- Per sweep and configuration: n finished trials, mean and sample SD (n-1) of test accuracy
-- and of final validation accuracy, how many diverged, and how many were pruned (pruned
-- trials are not among the n).
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
       m.diverged,
       (SELECT count(*) FROM sweep_trials p
        WHERE p.sweep_id = m.sweep_id AND p.config_hash = m.config_hash AND p.status = 'pruned') AS pruned
FROM means m
JOIN devs d USING (sweep_id, config_hash)
JOIN sweeps s ON s.id = m.sweep_id
JOIN sweep_configs sc ON sc.sweep_id = m.sweep_id AND sc.config_hash = m.config_hash
JOIN configs c ON c.hash = m.config_hash
ORDER BY s.name, sc.position;
