-- fcnsweep database, schema version 5: results of other frameworks beside fcnsweep's.
--
-- One row per (source, configuration, seed) imported with `fcnsweep results import`, e.g.
-- the PyTorch reference script's runs of a sweep's configurations, so `results compare`
-- sets them beside the sweep's own trials with Welch's test.

CREATE TABLE external_trials (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL,          -- name given at import, e.g. 'torch-table1'
    framework        TEXT,                   -- what produced it, e.g. 'torch 2.5.1'
    config_hash      TEXT NOT NULL REFERENCES configs(hash),
    seed             INTEGER NOT NULL,
    test_acc         REAL NOT NULL,
    test_loss        REAL,
    final_train_loss REAL,
    final_val_loss   REAL,
    final_val_acc    REAL,
    seconds          REAL,
    epochs           TEXT NOT NULL DEFAULT '[]',  -- JSON list of per-epoch metrics
    imported_at      REAL NOT NULL,
    UNIQUE (source, config_hash, seed)
);
