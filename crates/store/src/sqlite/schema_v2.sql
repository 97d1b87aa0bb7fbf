-- fcnsweep database, schema version 2: classical baselines beside the networks.

CREATE TABLE baselines (
    id          INTEGER PRIMARY KEY,
    dataset     TEXT NOT NULL,
    method      TEXT NOT NULL,          -- 'svd-subspace' | 'pca-lda'
    k           INTEGER NOT NULL,       -- dimension chosen on the validation split
    validation  INTEGER NOT NULL,       -- validation size of the split
    split_seed  INTEGER NOT NULL,
    val_acc     REAL NOT NULL,
    test_acc    REAL NOT NULL,
    seconds     REAL NOT NULL,
    val_curve   TEXT NOT NULL,          -- JSON [[k, validation accuracy], ...]
    created_at  REAL NOT NULL,
    UNIQUE (dataset, method, validation, split_seed)
);
