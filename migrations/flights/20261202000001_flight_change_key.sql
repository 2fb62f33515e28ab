-- A flight change sent with an `Idempotency-Key` (the flight-change
-- fan-out's first step sends its change key) is applied once: a retry
-- finds its key here and answers with the flight as it is.
create table flight_change (
    change_key text primary key,
    flight_id bigint not null references flight (flight_id) on delete cascade,
    version bigint not null,
    applied_at timestamptz not null default now()
);
