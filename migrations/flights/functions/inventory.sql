-- The seat inventory functions as they are now: the one place to read
-- them, and the one place to change them. The flight service applies this
-- file after the migrations, `flights migrate` and every start of
-- `flights serve` alike (flights/src/schema.rs), in one transaction under
-- an advisory lock: each statement is a `create or replace`, so applying
-- it again changes nothing. Their first definitions are in the migrations
-- 20261121000002_inventory_functions.sql and 20261201000001_booking_cutoff.sql
-- (which added the booking cut-off); migrations/flights/README.md says
-- what goes here and what must still go in a migration.
--
-- Each operation is one call, one transaction, one round trip: the hot
-- path of booking. The common path of a hold is two statements, of a
-- release or confirm one. Seats are locked before the hold record and the
-- per-cabin counters, so concurrent calls cannot wait on each other in a
-- cycle. Plans are generic: the same few statements run for every
-- booking, and re-planning them per call would cost more than running
-- them. Holds take the flight row's share lock, so none commits unseen
-- while the flight is being cancelled.
--
-- The booking cut-off: no hold and no confirmation once a flight departs
-- within p_cutoff (the flight service's FLIGHTS_BOOKING_CUTOFF, 45 minutes
-- by default): IV013. A confirmation also refuses a cancelled flight
-- (IV003) and a departed one (IV004): a payment that arrives late must not
-- sell a seat on a flight that has left or will not fly.
--
-- Errors carry stable SQLSTATEs in class 'IV' that the service maps to HTTP
-- (flights/src/inventory.rs):
--   IV001 hold exists with a different request   IV002 unknown flight
--   IV003 flight cancelled                        IV004 flight departed
--   IV005 concurrent duplicate, call again        IV006 seat does not exist
--   IV007 seats unavailable                       IV008 contended, call again
--   IV010 no such hold                            IV011 hold already confirmed
--   IV012 hold already released                   IV013 booking closed (cut-off)

-- A hold as the service answers it.
create or replace function inventory_hold_json(h seat_hold) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'booking_id', h.booking_id, 'flight_id', h.flight_id, 'status', h.status,
        'total_amount', h.total_amount, 'currency', h.currency, 'seats', h.seats,
        'created_at', h.created_at, 'confirmed_at', h.confirmed_at,
        'released_at', h.released_at)
$$;

-- Why a hold took fewer seats than asked: raises the matching error, or
-- returns the booking's existing hold ({"created": false, ...}) when this
-- call took nothing and is a retry.
create or replace function inventory_hold_refused(
    p_booking_id uuid, p_flight_id bigint, p_seat_numbers text[], p_cabin text,
    p_count integer, p_request jsonb, p_taken text[], p_cutoff interval
) returns jsonb
language plpgsql as $$
declare
    v_existing seat_hold%rowtype;
    v_status text;
    v_departure timestamptz;
    v_missing text;
    v_visible integer;
    v_taken integer := coalesce(cardinality(p_taken), 0);
begin
    select * into v_existing from seat_hold where booking_id = p_booking_id;
    if found then
        if v_taken > 0 then
            -- A concurrent call for this booking committed first: roll back, call again.
            raise exception using errcode = 'IV005', message = 'concurrent hold for this booking';
        end if;
        if v_existing.request <> p_request then
            raise exception using errcode = 'IV001',
                message = 'booking already holds seats for a different request';
        end if;
        return jsonb_build_object('created', false, 'hold', inventory_hold_json(v_existing));
    end if;

    select status, departure_time into v_status, v_departure from flight where flight_id = p_flight_id;
    if not found then
        raise exception using errcode = 'IV002', message = 'unknown flight';
    end if;
    if v_status = 'cancelled' then
        raise exception using errcode = 'IV003', message = 'the flight is cancelled';
    end if;
    if v_departure <= now() then
        raise exception using errcode = 'IV004', message = 'the flight has departed';
    end if;
    if v_departure <= now() + p_cutoff then
        raise exception using errcode = 'IV013',
            message = 'booking has closed for this flight (it departs within the cut-off)';
    end if;

    if p_seat_numbers is not null then
        select string_agg(n, ', ' order by n) into v_missing
          from unnest(p_seat_numbers) as n
         where not exists (select 1 from seat s where s.flight_id = p_flight_id and s.seat_number = n);
        if v_missing is not null then
            raise exception using errcode = 'IV006', message = v_missing;
        end if;
        select string_agg(n, ', ' order by n) into v_missing
          from unnest(p_seat_numbers) as n where n <> all (coalesce(p_taken, '{}'));
        raise exception using errcode = 'IV007', message = v_missing;
    end if;
    -- Seats locked by other calls still look available to us; if they could
    -- make up the difference, those calls may yet roll back.
    select count(*) into v_visible from seat s
     where s.flight_id = p_flight_id and s.cabin = p_cabin and s.status = 'available';
    if v_visible + v_taken >= p_count then
        raise exception using errcode = 'IV008', message = 'seats are being contended';
    end if;
    raise exception using errcode = 'IV007', message = format('only %s %s seats left', v_visible, p_cabin);
end
$$;

-- Holds seats for a booking: explicit seat numbers (p_seat_numbers) or
-- p_count seats of p_cabin, on a flight that departs after p_cutoff. All
-- or nothing; the fares are locked in the hold. Idempotent by booking id.
-- Returns {"created": bool, "hold": {...}}.
create or replace function inventory_hold(
    p_booking_id uuid, p_flight_id bigint, p_seat_numbers text[], p_cabin text,
    p_count integer, p_request jsonb, p_cutoff interval
) returns jsonb
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
    v_wanted integer := coalesce(cardinality(p_seat_numbers), p_count);
    v_numbers text[];
    v_cabins text[];
    v_hold jsonb;
begin
    -- The flight row, shared: a cancellation being saved (which locks it)
    -- waits for the holds in flight to commit, and a hold that comes after
    -- sees the flight cancelled. The fan-out that lists the flight's holds
    -- once the cancellation is saved misses none.
    perform 1 from flight where flight_id = p_flight_id for share;
    -- Take the seats, one conditional write each, unless the booking already
    -- has a hold or the flight cannot be booked.
    if p_seat_numbers is not null then
        with picked as (
            select s.seat_number from seat s
             where s.flight_id = p_flight_id and s.seat_number = any (p_seat_numbers)
               and s.status = 'available'
               and not exists (select 1 from seat_hold h where h.booking_id = p_booking_id)
               and exists (select 1 from flight f where f.flight_id = p_flight_id
                              and f.status <> 'cancelled' and f.departure_time > now() + p_cutoff)
             order by s.seat_number
               for update of s
        ), taken as (
            update seat s set status = 'held', booking_id = p_booking_id
              from picked
             where s.flight_id = p_flight_id and s.seat_number = picked.seat_number
            returning s.seat_number, s.cabin
        )
        select array_agg(seat_number order by seat_number), array_agg(cabin order by seat_number)
          into v_numbers, v_cabins from taken;
    else
        with picked as (
            select s.seat_number from seat s
             where s.flight_id = p_flight_id and s.cabin = p_cabin and s.status = 'available'
               and not exists (select 1 from seat_hold h where h.booking_id = p_booking_id)
               and exists (select 1 from flight f where f.flight_id = p_flight_id
                              and f.status <> 'cancelled' and f.departure_time > now() + p_cutoff)
             order by s.seat_row, s.seat_number
             limit p_count
               for update of s skip locked
        ), taken as (
            update seat s set status = 'held', booking_id = p_booking_id
              from picked
             where s.flight_id = p_flight_id and s.seat_number = picked.seat_number
            returning s.seat_number, s.cabin
        )
        select array_agg(seat_number order by seat_number), array_agg(cabin order by seat_number)
          into v_numbers, v_cabins from taken;
    end if;
    if coalesce(cardinality(v_numbers), 0) < v_wanted then
        return inventory_hold_refused(p_booking_id, p_flight_id, p_seat_numbers, p_cabin,
                                      p_count, p_request, v_numbers, p_cutoff);
    end if;

    -- Record the hold with its locked fares, its items and the counters.
    with items as (
        select u.seat_number, u.cabin, fc.fare_amount
          from unnest(v_numbers, v_cabins) as u(seat_number, cabin)
          join flight_cabin fc on fc.flight_id = p_flight_id and fc.cabin = u.cabin
    ), hold as (
        insert into seat_hold (booking_id, flight_id, status, total_amount, currency, request, seats)
        select p_booking_id, p_flight_id, 'held', sum(i.fare_amount),
               (select f.currency from flight f where f.flight_id = p_flight_id), p_request,
               jsonb_agg(jsonb_build_object('seat_number', i.seat_number, 'cabin', i.cabin,
                                            'fare_amount', i.fare_amount) order by i.seat_number)
          from items i
        on conflict (booking_id) do nothing
        returning inventory_hold_json(seat_hold) as hold
    ), item_rows as (
        insert into seat_hold_item (booking_id, flight_id, seat_number, cabin)
        select p_booking_id, p_flight_id, i.seat_number, i.cabin from items i
    ), counters as (
        update flight_cabin fc set seats_available = fc.seats_available - x.n
          from (select i.cabin, count(*)::integer as n from items i group by i.cabin) x
         where fc.flight_id = p_flight_id and fc.cabin = x.cabin
    )
    select hold into v_hold from hold;
    if v_hold is null then
        raise exception using errcode = 'IV005', message = 'concurrent hold for this booking';
    end if;
    return jsonb_build_object('created', true, 'hold', v_hold);
end
$$;

-- Seats held -> sold, while the flight is still bookable. Idempotent.
create or replace function inventory_confirm(p_booking_id uuid, p_cutoff interval) returns jsonb
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
    v_hold jsonb;
    v_existing seat_hold%rowtype;
    v_status text;
    v_departure timestamptz;
begin
    with h as (
        update seat_hold set status = 'confirmed', confirmed_at = now(), updated_at = now()
         where booking_id = p_booking_id and status = 'held'
           and exists (select 1 from flight f where f.flight_id = seat_hold.flight_id
                          and f.status <> 'cancelled' and f.departure_time > now() + p_cutoff)
        returning booking_id, inventory_hold_json(seat_hold) as j
    ), sold as (
        update seat s set status = 'sold'
          from seat_hold_item i join h on h.booking_id = i.booking_id
         where s.flight_id = i.flight_id and s.seat_number = i.seat_number
    )
    select j into v_hold from h;
    if v_hold is not null then
        return v_hold;
    end if;
    select * into v_existing from seat_hold where booking_id = p_booking_id;
    if not found then
        raise exception using errcode = 'IV010', message = 'no hold for this booking';
    end if;
    if v_existing.status = 'released' then
        raise exception using errcode = 'IV012', message = 'the hold was released';
    end if;
    if v_existing.status = 'held' then
        select status, departure_time into v_status, v_departure
          from flight where flight_id = v_existing.flight_id;
        if v_status = 'cancelled' then
            raise exception using errcode = 'IV003', message = 'the flight is cancelled';
        end if;
        if v_departure <= now() then
            raise exception using errcode = 'IV004', message = 'the flight has departed';
        end if;
        raise exception using errcode = 'IV013',
            message = 'booking has closed for this flight (it departs within the cut-off)';
    end if;
    return inventory_hold_json(v_existing);
end
$$;

-- Seats back to available. Idempotent. A confirmed hold is released only
-- when the caller says it is a cancellation (refund path).
create or replace function inventory_release(p_booking_id uuid, p_cancellation boolean) returns jsonb
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
    v_hold jsonb;
    v_existing seat_hold%rowtype;
begin
    with h as (
        update seat_hold set status = 'released', released_at = now(), updated_at = now()
         where booking_id = p_booking_id
           and (status = 'held' or (status = 'confirmed' and p_cancellation))
        returning booking_id, inventory_hold_json(seat_hold) as j
    ), gone as (
        delete from seat_hold_item i using h
         where i.booking_id = h.booking_id
        returning i.flight_id, i.seat_number
    ), freed as (
        update seat s set status = 'available', booking_id = null
          from gone
         where s.flight_id = gone.flight_id and s.seat_number = gone.seat_number
        returning s.flight_id, s.cabin
    ), counters as (
        update flight_cabin fc set seats_available = fc.seats_available + x.n
          from (select f.flight_id, f.cabin, count(*)::integer as n
                  from freed f group by f.flight_id, f.cabin) x
         where fc.flight_id = x.flight_id and fc.cabin = x.cabin
    )
    select j into v_hold from h;
    if v_hold is not null then
        return v_hold;
    end if;
    select * into v_existing from seat_hold where booking_id = p_booking_id;
    if not found then
        raise exception using errcode = 'IV010', message = 'no hold for this booking';
    end if;
    if v_existing.status = 'confirmed' then
        raise exception using errcode = 'IV011',
            message = 'the hold is confirmed; release it as a cancellation';
    end if;
    return inventory_hold_json(v_existing);
end
$$;
