-- Tickets: complaints, suggestions, card-loss reports, callback requests, security locks and
-- left messages, with an SLA clock and escalation levels (timed reminders). The pg-boss job
-- ids are kept so the restart sweep can tell whether a ticket's job still exists.
CREATE TABLE tickets (
  id                  text PRIMARY KEY,
  kind                text NOT NULL CHECK (kind IN ('complaint', 'suggestion', 'card-loss', 'callback-request',
                                                    'security-lock', 'leave-message')),
  customer_id         text,
  call_id             text,
  status              text NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
  opened_at           timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  closed_at           timestamptz,
  close_reason        text,
  sla_due_at          timestamptz,
  escalation_level    int NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
  -- When the next escalation (level + 1) is due; NULL when closed, no SLA, or at the top level.
  next_escalation_at  timestamptz,
  escalation_job_id   uuid,
  -- For callback requests: when to call back, and the pg-boss job that will.
  callback_at         timestamptz,
  callback_job_id     uuid,
  data                jsonb NOT NULL DEFAULT '{}',
  CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX tickets_pending_escalation ON tickets (next_escalation_at) WHERE status <> 'closed' AND next_escalation_at IS NOT NULL;
CREATE INDEX tickets_pending_callback ON tickets (callback_at) WHERE status <> 'closed' AND callback_at IS NOT NULL;
CREATE INDEX tickets_customer ON tickets (customer_id, opened_at DESC);
