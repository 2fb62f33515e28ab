-- Text messages to travellers (Kannel's sendsms): one row per booking and
-- text key, locked while the text goes out so it goes once; its status
-- follows Kannel's delivery reports. The number is never stored: ops see
-- a hint (`+44•••••••456`). Ops read them (docs/ops.md, "Text messages").
create table sms_message (
    booking_id     uuid not null,
    sms_key        text not null,
    kind           text not null,
    -- In the delivery report URL Kannel calls back.
    message_id     uuid not null unique,
    recipient_hint text,
    coding         text check (coding in ('gsm7', 'ucs2')),
    segments       smallint,
    -- sending: not handed to Kannel yet; sent: Kannel took it;
    -- accepted / buffered: the SMSC has it; delivered / failed: the
    -- handset's report (final); rejected: Kannel refused it for good;
    -- out_of_budget: Kannel stayed out of reach past the text's budget.
    status         text not null default 'sending' check (status in (
        'sending', 'sent', 'accepted', 'buffered', 'delivered', 'failed',
        'rejected', 'out_of_budget')),
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    primary key (booking_id, sms_key)
);

-- Every status a text went through, delivery reports included.
create table sms_event (
    sms_event_id bigint generated always as identity primary key,
    message_id   uuid not null references sms_message (message_id),
    status       text not null,
    detail       text,
    occurred_at  timestamptz not null default now()
);
create index sms_event_message on sms_event (message_id);
