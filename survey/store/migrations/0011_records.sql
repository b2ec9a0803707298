-- The record API (issue #8): versions for optimistic concurrency, soft delete of field
-- records, and the first answers to creates sent with an Idempotency-Key.

-- Tasks and activity reports are written over HTTP now: a version (the ETag; every write
-- bumps it, so a write checked against it cannot overwrite a change it has not seen),
-- when they last changed, and soft delete (the row stays for the audit trail and for
-- whatever refers to it; nothing the ledger has booked is ever deleted).
ALTER TABLE task
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at timestamptz;
ALTER TABLE task ADD CONSTRAINT task_version_check CHECK (version >= 1);

ALTER TABLE activity_report
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at timestamptz,
    -- who benefits from the land a handover certificate hands over, by sex and age (the
    -- participants are handover_men ... handover_girls)
    ADD COLUMN beneficiaries_men integer CHECK (beneficiaries_men >= 0),
    ADD COLUMN beneficiaries_women integer CHECK (beneficiaries_women >= 0),
    ADD COLUMN beneficiaries_boys integer CHECK (beneficiaries_boys >= 0),
    ADD COLUMN beneficiaries_girls integer CHECK (beneficiaries_girls >= 0);

-- keyset pages: (sort key, id) per programme, live rows only
CREATE INDEX task_programme_local_idx ON task (programme_id, local_id, id)
    WHERE deleted_at IS NULL;
CREATE INDEX activity_report_programme_date_idx
    ON activity_report (programme_id, report_date, id) WHERE deleted_at IS NULL;

-- The first answer to a create sent with an Idempotency-Key, per caller and key. The row
-- is written in the transaction that creates the record, so the two commit together or
-- not at all; its primary key is the lock that makes a racing retry wait for the first
-- request and then read its answer (survey.records.idempotency).
CREATE TABLE idempotency_key (
    actor text NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    programme_id uuid REFERENCES programme(id),
    method text NOT NULL,
    path text NOT NULL,
    -- sha256 of method, path and the canonical body: the same key with another request
    -- is refused instead of answered with the first request's result
    request_sha256 text NOT NULL,
    status smallint,
    body json,  -- json, not jsonb: the answer comes back as it was sent
    headers jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
-- old keys are purged by age (survey.records.idempotency.purge)
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);
