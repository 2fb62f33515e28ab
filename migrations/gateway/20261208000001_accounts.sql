-- Account features: verified addresses, single-use emailed links (verify
-- the address, reset the password, unlock a throttled login), sessions a
-- traveller can see and end, two-factor sign-in (TOTP), and deletion that
-- keeps the bookings accounting needs while forgetting the person.

alter table app_user
    add column email_verified_at   timestamptz,
    -- The TOTP secret, sealed (AES-256-GCM, api/src/auth/totp.rs); set
    -- while enrolling, active from `totp_enabled_at`.
    add column totp_secret         bytea,
    add column totp_enabled_at     timestamptz,
    -- The last 30-second step whose code signed in: a code works once.
    add column totp_last_step      bigint,
    add column password_changed_at timestamptz,
    add column deleted_at          timestamptz;

-- The admin from ADMIN_EMAIL is the operator's own address.
update app_user set email_verified_at = created_at where role = 'admin';

-- Links sent by email, stored as SHA-256 hashes of their secret: each works
-- once (`used_at`) until `expires_at`.
create table account_token (
    token_hash bytea primary key,
    user_id    uuid not null references app_user (user_id) on delete cascade,
    purpose    text not null,
    expires_at timestamptz not null,
    used_at    timestamptz,
    created_at timestamptz not null default now(),
    constraint account_token_purpose_check
        check (purpose in ('verify_email', 'reset_password', 'unlock'))
);
create index account_token_user_idx on account_token (user_id, purpose);

-- One-time recovery codes of two-factor sign-in, as SHA-256 hashes.
create table recovery_code (
    user_id   uuid not null references app_user (user_id) on delete cascade,
    code_hash bytea not null,
    used_at   timestamptz,
    constraint recovery_code_pk primary key (user_id, code_hash)
);

-- What a traveller sees of each session: the device it began on and when
-- it was last refreshed.
alter table refresh_token
    add column user_agent text;
create index refresh_token_user_idx on refresh_token (user_id) where revoked_at is null;
