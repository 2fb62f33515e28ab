-- Catalogue and seat inventory of the flight service.
-- Only the flight service writes these tables.

create table city (
    city_id      bigint generated always as identity primary key,
    name         text not null check (length(name) between 1 and 100),
    country_code text not null check (country_code ~ '^[A-Z]{2}$'),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint city_name_country_unique unique (country_code, name)
);
create index city_name_prefix_idx on city (lower(name) text_pattern_ops);

create table airport (
    airport_id bigint generated always as identity primary key,
    iata_code  text not null check (iata_code ~ '^[A-Z]{3}$'),
    name       text not null check (length(name) between 1 and 200),
    city_id    bigint not null,
    time_zone  text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint airport_iata_code_unique unique (iata_code),
    constraint airport_city_fk foreign key (city_id) references city (city_id)
);
create index airport_name_prefix_idx on airport (lower(name) text_pattern_ops);
create index airport_city_idx on airport (city_id);

-- seat_map: {"sections": [{"cabin": "business", "from_row": 1, "to_row": 4,
--                          "seat_letters": "ACDF"}, ...]}
create table airplane (
    airplane_id bigint generated always as identity primary key,
    model       text not null check (length(model) between 1 and 100),
    seat_map    jsonb not null,
    seat_count  integer not null check (seat_count > 0),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table flight (
    flight_id              bigint generated always as identity primary key,
    flight_number          text not null check (flight_number ~ '^[A-Z0-9]{2}[0-9]{1,4}$'),
    airplane_id            bigint not null,
    origin_airport_id      bigint not null,
    destination_airport_id bigint not null,
    departure_time         timestamptz not null,
    arrival_time           timestamptz not null,
    -- Departure in the origin airport's wall-clock time: search is by local day.
    departure_local        timestamp not null,
    duration_minutes       integer generated always as
                               ((extract(epoch from (arrival_time - departure_time)) / 60)::integer) stored,
    currency               text not null check (currency ~ '^[A-Z]{3}$'),
    gate                   text check (length(gate) between 1 and 10),
    status                 text not null default 'scheduled'
                               check (status in ('scheduled', 'delayed', 'cancelled')),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    constraint flight_airplane_fk foreign key (airplane_id) references airplane (airplane_id),
    constraint flight_origin_fk foreign key (origin_airport_id) references airport (airport_id),
    constraint flight_destination_fk foreign key (destination_airport_id) references airport (airport_id),
    constraint flight_arrival_after_departure check (arrival_time > departure_time),
    constraint flight_distinct_airports check (origin_airport_id <> destination_airport_id),
    constraint flight_number_departure_unique unique (flight_number, departure_time)
);
create index flight_route_departure_idx
    on flight (origin_airport_id, destination_airport_id, departure_local);
create index flight_origin_departure_idx on flight (origin_airport_id, departure_local);
create index flight_departure_idx on flight (departure_time);
create index flight_airplane_idx on flight (airplane_id);
create index flight_destination_idx on flight (destination_airport_id);

-- Fare and live availability per cabin. seats_available is kept in the same
-- transaction as every seat change, so search never counts seat rows.
create table flight_cabin (
    flight_id       bigint not null,
    cabin           text not null check (cabin in ('economy', 'premium_economy', 'business', 'first')),
    fare_amount     bigint not null check (fare_amount >= 0),
    seats_total     integer not null check (seats_total > 0),
    seats_available integer not null,
    constraint flight_cabin_pk primary key (flight_id, cabin),
    constraint flight_cabin_flight_fk foreign key (flight_id) references flight (flight_id) on delete cascade,
    constraint flight_cabin_available_in_range check (seats_available between 0 and seats_total)
);

-- Every seat of every flight. Updated in place by the inventory functions;
-- no index covers `status` or `booking_id`, so with the free space left in
-- each page those updates are HOT (no index maintenance).
create table seat (
    flight_id   bigint not null,
    seat_number text not null,
    seat_row    smallint not null,
    cabin       text not null,
    status      text not null default 'available' check (status in ('available', 'held', 'sold')),
    booking_id  uuid,
    constraint seat_pk primary key (flight_id, seat_number),
    constraint seat_cabin_fk foreign key (flight_id, cabin) references flight_cabin (flight_id, cabin) on delete cascade,
    constraint seat_booking_iff_taken check ((status = 'available') = (booking_id is null))
) with (fillfactor = 90);
-- Seats of a cabin front rows first: "the first free seats" stops at the
-- first free ones.
create index seat_cabin_order_idx on seat (flight_id, cabin, seat_row, seat_number);

-- One hold per booking: the idempotency record of the inventory API. `seats`
-- is the snapshot of what was held and at what fare, kept after release.
create table seat_hold (
    booking_id   uuid primary key,
    flight_id    bigint not null,
    status       text not null check (status in ('held', 'confirmed', 'released')),
    total_amount bigint not null check (total_amount >= 0),
    currency     text not null,
    request      jsonb not null,
    seats        jsonb not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    confirmed_at timestamptz,
    released_at  timestamptz,
    constraint seat_hold_flight_fk foreign key (flight_id) references flight (flight_id)
);
create index seat_hold_flight_idx on seat_hold (flight_id);

-- The seats a live (held or confirmed) hold has; deleted on release.
create table seat_hold_item (
    booking_id  uuid not null,
    flight_id   bigint not null,
    seat_number text not null,
    cabin       text not null,
    constraint seat_hold_item_pk primary key (booking_id, seat_number),
    constraint seat_hold_item_hold_fk foreign key (booking_id) references seat_hold (booking_id) on delete cascade,
    -- The last line of defence against overbooking: a seat is in at most
    -- one live hold.
    constraint seat_hold_item_seat_unique unique (flight_id, seat_number)
);
