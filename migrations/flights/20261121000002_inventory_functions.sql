-- Seat inventory operations. Each is one call, one transaction, one round
-- trip: the hot path of booking. Seats are always locked before the
-- per-cabin counters, in seat-number order, so concurrent calls cannot
-- deadlock on each other's locks in a cycle.
--
-- Errors carry stable SQLSTATEs in class 'IV' that the service maps to HTTP:
--   IV001 hold exists with a different request   IV002 unknown flight
--   IV003 flight cancelled                        IV004 flight departed
--   IV005 concurrent duplicate, call again        IV006 seat does not exist
--   IV007 seats unavailable                       IV008 contended, call again
--   IV010 no such hold                            IV011 hold already confirmed
--   IV012 hold already released

create function inventory_hold_view(p_booking_id uuid) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'booking_id', h.booking_id,
        'flight_id', h.flight_id,
        'status', h.status,
        'total_amount', h.total_amount,
        'currency', h.currency,
        'created_at', h.created_at,
        'confirmed_at', h.confirmed_at,
        'released_at', h.released_at,
        'seats', (select coalesce(jsonb_agg(jsonb_build_object(
                        'seat_number', i.seat_number, 'cabin', i.cabin,
                        'fare_amount', i.fare_amount) order by i.seat_number), '[]')
                    from seat_hold_item i where i.booking_id = h.booking_id))
    from seat_hold h where h.booking_id = p_booking_id
$$;

-- Holds seats for a booking: explicit seat numbers (p_seat_numbers) or
-- p_count seats of p_cabin. All or nothing. Idempotent by booking id.
-- Returns {"created": bool, "hold": {...}}.
create function inventory_hold(
    p_booking_id uuid, p_flight_id bigint, p_seat_numbers text[], p_cabin text,
    p_count integer, p_request jsonb
) returns jsonb
language plpgsql as $$
declare
    v_existing seat_hold%rowtype;
    v_flight flight%rowtype;
    v_wanted integer;
    v_taken integer;
    v_missing text;
    v_visible integer;
begin
    select * into v_existing from seat_hold where booking_id = p_booking_id;
    if found then
        if v_existing.request <> p_request then
            raise exception using errcode = 'IV001',
                message = 'booking already holds seats for a different request';
        end if;
        return jsonb_build_object('created', false, 'hold', inventory_hold_view(p_booking_id));
    end if;

    select * into v_flight from flight where flight_id = p_flight_id;
    if not found then
        raise exception using errcode = 'IV002', message = 'unknown flight';
    end if;
    if v_flight.status = 'cancelled' then
        raise exception using errcode = 'IV003', message = 'the flight is cancelled';
    end if;
    if v_flight.departure_time <= now() then
        raise exception using errcode = 'IV004', message = 'the flight has departed';
    end if;

    insert into seat_hold (booking_id, flight_id, status, total_amount, currency, request)
    values (p_booking_id, p_flight_id, 'held', 0, v_flight.currency, p_request)
    on conflict (booking_id) do nothing;
    if not found then
        raise exception using errcode = 'IV005', message = 'concurrent hold for this booking';
    end if;

    if p_seat_numbers is not null then
        v_wanted := cardinality(p_seat_numbers);
        select string_agg(n, ', ' order by n) into v_missing
          from unnest(p_seat_numbers) as n
         where not exists (select 1 from seat s where s.flight_id = p_flight_id and s.seat_number = n);
        if v_missing is not null then
            raise exception using errcode = 'IV006', message = v_missing;
        end if;
        with picked as (
            select s.seat_number from seat s
             where s.flight_id = p_flight_id and s.seat_number = any (p_seat_numbers)
               and s.status = 'available'
             order by s.seat_number
               for update
        ), taken as (
            update seat s set status = 'held', booking_id = p_booking_id
              from picked
             where s.flight_id = p_flight_id and s.seat_number = picked.seat_number
            returning s.seat_number, s.cabin
        )
        insert into seat_hold_item (booking_id, flight_id, seat_number, cabin, fare_amount)
        select p_booking_id, p_flight_id, t.seat_number, t.cabin, fc.fare_amount
          from taken t join flight_cabin fc on fc.flight_id = p_flight_id and fc.cabin = t.cabin;
        get diagnostics v_taken = row_count;
        if v_taken < v_wanted then
            select string_agg(n, ', ' order by n) into v_missing
              from unnest(p_seat_numbers) as n
             where not exists (select 1 from seat_hold_item i
                                where i.booking_id = p_booking_id and i.seat_number = n);
            raise exception using errcode = 'IV007', message = v_missing;
        end if;
    else
        v_wanted := p_count;
        with picked as (
            select s.seat_number from seat s
             where s.flight_id = p_flight_id and s.cabin = p_cabin and s.status = 'available'
             order by s.seat_row, s.seat_number
             limit p_count
               for update skip locked
        ), taken as (
            update seat s set status = 'held', booking_id = p_booking_id
              from picked
             where s.flight_id = p_flight_id and s.seat_number = picked.seat_number
            returning s.seat_number, s.cabin
        )
        insert into seat_hold_item (booking_id, flight_id, seat_number, cabin, fare_amount)
        select p_booking_id, p_flight_id, t.seat_number, t.cabin, fc.fare_amount
          from taken t join flight_cabin fc on fc.flight_id = p_flight_id and fc.cabin = t.cabin;
        get diagnostics v_taken = row_count;
        if v_taken < v_wanted then
            -- Seats locked by other calls still look available to us; if they
            -- could make up the difference, those calls may yet roll back.
            select count(*) into v_visible from seat s
             where s.flight_id = p_flight_id and s.cabin = p_cabin and s.status = 'available';
            if v_visible + v_taken >= v_wanted then
                raise exception using errcode = 'IV008', message = 'seats are being contended';
            end if;
            raise exception using errcode = 'IV007',
                message = format('only %s %s seats left', v_visible, p_cabin);
        end if;
    end if;

    update flight_cabin fc set seats_available = fc.seats_available - x.n
      from (select i.cabin, count(*)::integer as n from seat_hold_item i
             where i.booking_id = p_booking_id group by i.cabin order by i.cabin) x
     where fc.flight_id = p_flight_id and fc.cabin = x.cabin;
    update seat_hold h set total_amount =
           (select sum(i.fare_amount) from seat_hold_item i where i.booking_id = p_booking_id)
     where h.booking_id = p_booking_id;
    return jsonb_build_object('created', true, 'hold', inventory_hold_view(p_booking_id));
end
$$;

-- Seats held -> sold. Idempotent.
create function inventory_confirm(p_booking_id uuid) returns jsonb
language plpgsql as $$
declare
    v_hold seat_hold%rowtype;
begin
    select * into v_hold from seat_hold where booking_id = p_booking_id for update;
    if not found then
        raise exception using errcode = 'IV010', message = 'no hold for this booking';
    end if;
    if v_hold.status = 'released' then
        raise exception using errcode = 'IV012', message = 'the hold was released';
    end if;
    if v_hold.status = 'held' then
        update seat s set status = 'sold'
          from seat_hold_item i
         where i.booking_id = p_booking_id and not i.released
           and s.flight_id = i.flight_id and s.seat_number = i.seat_number
           and s.booking_id = p_booking_id;
        update seat_hold set status = 'confirmed', confirmed_at = now(), updated_at = now()
         where booking_id = p_booking_id;
    end if;
    return inventory_hold_view(p_booking_id);
end
$$;

-- Seats back to available. Idempotent. A confirmed hold is released only
-- when the caller says it is a cancellation (refund path).
create function inventory_release(p_booking_id uuid, p_cancellation boolean) returns jsonb
language plpgsql as $$
declare
    v_hold seat_hold%rowtype;
begin
    select * into v_hold from seat_hold where booking_id = p_booking_id for update;
    if not found then
        raise exception using errcode = 'IV010', message = 'no hold for this booking';
    end if;
    if v_hold.status = 'confirmed' and not p_cancellation then
        raise exception using errcode = 'IV011',
            message = 'the hold is confirmed; release it as a cancellation';
    end if;
    if v_hold.status <> 'released' then
        with freed as (
            update seat s set status = 'available', booking_id = null
              from (select i.flight_id, i.seat_number from seat_hold_item i
                     where i.booking_id = p_booking_id and not i.released
                     order by i.seat_number) i
             where s.flight_id = i.flight_id and s.seat_number = i.seat_number
               and s.booking_id = p_booking_id
            returning s.cabin
        ), per_cabin as (
            select cabin, count(*)::integer as n from freed group by cabin
        )
        update flight_cabin fc set seats_available = fc.seats_available + per_cabin.n
          from per_cabin
         where fc.flight_id = v_hold.flight_id and fc.cabin = per_cabin.cabin;
        update seat_hold_item set released = true
         where booking_id = p_booking_id and not released;
        update seat_hold set status = 'released', released_at = now(), updated_at = now()
         where booking_id = p_booking_id;
    end if;
    return inventory_hold_view(p_booking_id);
end
$$;
