-- dataseal-registry schema 2 (SQLite): who answers for a version (what the policy
-- engine reads as its record), the reads jobs made, and erasure receipts.

-- NULL for versions registered without them: a decision then denies.
ALTER TABLE versions ADD COLUMN owner TEXT;
ALTER TABLE versions ADD COLUMN organisation TEXT;
ALTER TABLE versions ADD COLUMN uploader TEXT;
ALTER TABLE versions ADD COLUMN special_category BIGINT CHECK (special_category IN (0, 1));

-- Every read a fetch recorded: who, for which job, its signed receipt.
CREATE TABLE reads (
    id INTEGER PRIMARY KEY,
    cid TEXT NOT NULL REFERENCES versions (cid),
    principal TEXT NOT NULL,
    job TEXT,
    receipt BLOB,
    at BIGINT NOT NULL
);
CREATE INDEX reads_by_cid ON reads (cid);

-- The signed erasure receipt of an erased version (opaque to the registry).
CREATE TABLE erasure_receipts (
    cid TEXT PRIMARY KEY NOT NULL REFERENCES versions (cid),
    receipt BLOB NOT NULL,
    at BIGINT NOT NULL
);
