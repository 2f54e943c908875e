-- dataseal-registry schema 1 (PostgreSQL). Times are Unix seconds; states, principals,
-- roles, CIDs and ids are their canonical text forms.

CREATE TABLE versions (
    cid TEXT PRIMARY KEY NOT NULL,
    dataset_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('quarantined', 'approved', 'published',
        'superseded', 'revoked', 'expired', 'archived', 'erased')),
    retention_until BIGINT,
    -- Changes since registration: transitions and version-scoped holds placed or lifted.
    revision BIGINT NOT NULL CHECK (revision >= 0)
);
CREATE INDEX versions_by_dataset ON versions (dataset_id);
CREATE INDEX versions_by_retention ON versions (retention_until);

-- Lineage, recorded at registration: version -> parent version, version -> source.
CREATE TABLE version_parents (
    cid TEXT NOT NULL REFERENCES versions (cid),
    parent TEXT NOT NULL,
    PRIMARY KEY (cid, parent)
);
CREATE INDEX version_parents_by_parent ON version_parents (parent);

CREATE TABLE version_sources (
    cid TEXT NOT NULL REFERENCES versions (cid),
    source TEXT NOT NULL,
    PRIMARY KEY (cid, source)
);
CREATE INDEX version_sources_by_source ON version_sources (source);

-- Registration (from_state NULL, revision 0) and every transition.
CREATE TABLE transitions (
    cid TEXT NOT NULL REFERENCES versions (cid),
    revision BIGINT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (cid, revision)
);

CREATE TABLE holds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('version', 'dataset', 'source')),
    scope_key TEXT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- The version's revision when placed and lifted (version-scoped holds only).
    placed_revision BIGINT,
    lifted_principal TEXT,
    lifted_role TEXT,
    lifted_reason TEXT,
    lifted_at BIGINT,
    lifted_revision BIGINT
);
CREATE INDEX holds_by_scope ON holds (scope_kind, scope_key);

CREATE TABLE revoked_grants (
    grant_id TEXT PRIMARY KEY NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE withdrawn_sources (
    source TEXT PRIMARY KEY NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- At most one row: the audit log's latest signed checkpoint.
CREATE TABLE audit_checkpoint (
    slot BIGINT PRIMARY KEY NOT NULL CHECK (slot = 1),
    sequence BIGINT NOT NULL CHECK (sequence >= 0),
    bytes BYTEA NOT NULL,
    stored_at BIGINT NOT NULL
);

-- Approval envelopes as received, kept for the approval rules to verify.
CREATE TABLE approval_envelopes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cid TEXT NOT NULL REFERENCES versions (cid),
    envelope BYTEA NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX approval_envelopes_by_cid ON approval_envelopes (cid);
