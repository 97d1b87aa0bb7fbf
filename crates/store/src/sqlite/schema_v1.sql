-- fcnsweep database, schema version 1.
-- Times are unix seconds (REAL). A configuration is identified by the SHA-256 of its
-- canonical parameters; a trial is one (configuration, seed) training run.

CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    dataset     TEXT NOT NULL,
    spec        TEXT NOT NULL,          -- the YAML text, as last registered
    plan_hash   TEXT NOT NULL,          -- hash of the expanded configurations and seeds
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE configs (
    hash         TEXT PRIMARY KEY,
    dataset      TEXT NOT NULL,
    params       TEXT NOT NULL,         -- canonical RunConfig as JSON
    hidden       TEXT NOT NULL,         -- e.g. '500-50'
    optimizer    TEXT NOT NULL,
    lr           REAL NOT NULL,
    momentum     REAL NOT NULL,
    weight_decay REAL NOT NULL,
    nesterov     INTEGER NOT NULL,
    beta1        REAL NOT NULL,
    beta2        REAL NOT NULL,
    alpha        REAL NOT NULL,
    eps          REAL NOT NULL,
    centered     INTEGER NOT NULL,
    dropout      REAL NOT NULL,
    init         TEXT NOT NULL,
    init_std     REAL NOT NULL,
    norm         TEXT NOT NULL,
    epochs       INTEGER NOT NULL,
    batch_size   INTEGER NOT NULL,
    validation   INTEGER NOT NULL,
    train_subset INTEGER,               -- NULL: the whole training part
    standardize  INTEGER NOT NULL,
    split_seed   INTEGER NOT NULL
);

CREATE TABLE sweep_configs (
    sweep_id    INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    config_hash TEXT NOT NULL REFERENCES configs(hash),
    position    INTEGER NOT NULL,       -- order of first appearance in the expanded spec
    baseline    INTEGER NOT NULL,       -- 1 for the spec's base configuration
    sources     TEXT NOT NULL,          -- JSON list of the blocks that produced it
    PRIMARY KEY (sweep_id, config_hash)
);

CREATE TABLE sweep_seeds (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    seed     INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, seed)
);

CREATE TABLE trials (
    id              INTEGER PRIMARY KEY,
    config_hash     TEXT NOT NULL REFERENCES configs(hash),
    seed            INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'diverged')),
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
    error           TEXT
);
CREATE UNIQUE INDEX trials_current ON trials(config_hash, seed) WHERE superseded = 0;
CREATE INDEX trials_status ON trials(status);

CREATE TABLE epochs (
    trial_id   INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    train_loss REAL,
    train_acc  REAL NOT NULL,
    val_loss   REAL,
    val_acc    REAL,
    seconds    REAL NOT NULL,
    PRIMARY KEY (trial_id, epoch)
);

-- Every current trial of every sweep.
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
       c.norm, c.epochs, c.batch_size, c.train_subset,
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
