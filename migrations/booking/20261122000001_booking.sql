-- The booking database: the read model of booking workflows, their
-- append-only event log, and the records that make retried activities safe
-- (payment attempts, refunds, tickets, sent notifications).

-- One row per booking, kept current by the workflow at each transition.
-- `version` is the revision of the workflow state the row reflects: a late
-- retry of an older record never overwrites a newer one.
create table booking (
    booking_id        uuid primary key,
    booking_ref       text not null,
    user_id           text not null,
    flight_id         bigint not null,
    flight_number     text,
    departure_time    timestamptz,
    status            text not null,
    seats             jsonb not null default '[]',
    total_amount      bigint,
    currency          text,
    contact_email     text not null,
    passengers        jsonb not null,
    payment_intent_id text,
    payment_due_at    timestamptz,
    ticket_numbers    jsonb not null default '[]',
    failure_reason    text,
    refund_id         text,
    refund_amount     bigint,
    state             jsonb not null,
    version           integer not null,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint booking_ref_unique unique (booking_ref),
    constraint booking_status_check check (status in (
        'holding', 'awaiting_payment', 'confirming', 'confirmed',
        'expired', 'cancelled', 'failed', 'completed'))
);
create index booking_user_idx on booking (user_id, created_at desc);
create index booking_flight_idx on booking (flight_id, status);
create index booking_status_idx on booking (status, updated_at);

-- Every transition of every booking, appended once (seq is its position in
-- the workflow's history of transitions).
create table booking_event (
    booking_event_id bigint generated always as identity primary key,
    booking_id       uuid not null references booking (booking_id),
    seq              integer not null,
    status           text not null,
    reason           text,
    occurred_at      timestamptz not null,
    recorded_at      timestamptz not null default now(),
    constraint booking_event_seq_unique unique (booking_id, seq)
);

-- One Stripe PaymentIntent per payment attempt. The row is written before
-- Stripe is called and locked while it is, so a retried or concurrent
-- execution of the same step finds the intent instead of creating another.
create table payment_attempt (
    booking_id        uuid not null,
    attempt           integer not null,
    payment_intent_id text,
    client_secret     text,
    amount            bigint not null,
    currency          text not null,
    status            text not null default 'creating',
    decline_code      text,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint payment_attempt_pkey primary key (booking_id, attempt),
    constraint payment_attempt_intent_unique unique (payment_intent_id),
    constraint payment_attempt_status_check check (status in (
        'creating', 'created', 'authorized', 'declined', 'captured', 'cancelled'))
);

-- At most one refund per booking.
create table refund (
    booking_id uuid primary key,
    refund_id  text,
    amount     bigint not null,
    currency   text not null,
    created_at timestamptz not null default now()
);

-- E-ticket numbers: one per passenger, issued once.
create sequence ticket_number_seq start 1000000001;
create table ticket (
    booking_id    uuid not null,
    passenger_no  integer not null,
    ticket_number text not null,
    issued_at     timestamptz not null default now(),
    constraint ticket_pkey primary key (booking_id, passenger_no),
    constraint ticket_number_unique unique (ticket_number)
);

-- Emails sent, at most one per booking and key (the kind, plus a sequence
-- number for kinds that can repeat such as schedule changes).
create table notification (
    booking_id       uuid not null,
    notification_key text not null,
    kind             text not null,
    recipient        text not null,
    message_id       text,
    sent_at          timestamptz,
    created_at       timestamptz not null default now(),
    constraint notification_pkey primary key (booking_id, notification_key)
);
