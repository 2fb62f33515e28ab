-- Emails the mailer gave up on: refused for good by the mail server, or
-- SMTP out of reach for longer than the email's retry budget (a day).
-- One row per booking and email key; ops read them (docs/ops.md, "Emails
-- that failed") and the worker counts them (booking_emails_failed_total).
create table email_failure (
    booking_id uuid not null,
    email_key text not null,
    kind text not null,
    -- `rejected` (the mail server refused it) or `out_of_budget`.
    cause text not null check (cause in ('rejected', 'out_of_budget')),
    failed_at timestamptz not null default now(),
    primary key (booking_id, email_key)
);
