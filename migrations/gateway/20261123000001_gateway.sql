-- The gateway's tables in the booking database: accounts, refresh tokens,
-- the booking requests behind each Idempotency-Key, and the Stripe webhook
-- events already processed.

create table app_user (
    user_id       uuid primary key,
    -- stored lower-cased: one account per address
    email         text not null,
    name          text not null,
    password_hash text not null,
    role          text not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint app_user_email_unique unique (email),
    constraint app_user_role_check check (role in ('customer', 'admin'))
);

-- Opaque refresh tokens, stored as SHA-256 hashes. Each use marks the
-- token used and issues the next one in the same family; presenting a used
-- token again revokes the whole family.
create table refresh_token (
    refresh_token_id uuid primary key,
    family_id        uuid not null,
    user_id          uuid not null references app_user (user_id) on delete cascade,
    token_hash       bytea not null,
    expires_at       timestamptz not null,
    used_at          timestamptz,
    revoked_at       timestamptz,
    created_at       timestamptz not null default now(),
    constraint refresh_token_hash_unique unique (token_hash)
);
create index refresh_token_family_idx on refresh_token (family_id);

-- One row per (user, Idempotency-Key): the booking that key started. The
-- booking reference is allocated here, so its uniqueness is settled before
-- the workflow starts. `request_hash` tells a retry from a different
-- request reusing the key.
create table booking_request (
    user_id         uuid not null references app_user (user_id),
    idempotency_key text not null,
    request_hash    bytea not null,
    booking_id      uuid not null,
    booking_ref     text not null,
    created_at      timestamptz not null default now(),
    constraint booking_request_pk primary key (user_id, idempotency_key),
    constraint booking_request_booking_unique unique (booking_id),
    constraint booking_request_ref_unique unique (booking_ref)
);

-- Stripe webhook events processed, by Stripe's event id.
create table stripe_event (
    event_id    text primary key,
    event_type  text not null,
    received_at timestamptz not null default now()
);
