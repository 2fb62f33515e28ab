-- Seats asked for by each booking request, for the cap on seats one user
-- may hold awaiting payment (BOOKING_MAX_HELD_SEATS_PER_USER). Requests
-- from before it count as one seat each.
alter table booking_request add column seats integer not null default 1;
