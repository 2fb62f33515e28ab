-- Failed logins per account address, shared by every gateway replica: each
-- login attempt counts until it succeeds (so parallel guesses are counted
-- too), and past a few attempts the next one waits a growing delay
-- (api/src/auth/throttle.rs). A success removes the row; a row untouched for
-- an hour starts again from zero. Keyed on the address as typed (lower-cased),
-- whether or not an account has it, so the answer tells nothing about which
-- addresses have accounts.
create table login_throttle (
    email        text primary key,
    attempts     integer not null,
    locked_until timestamptz not null,
    updated_at   timestamptz not null default now()
);
