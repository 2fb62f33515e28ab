-- Outcomes are typed (a code and an optional detail, airline_domain::Outcome):
-- the code gets a column of its own, for ops to group and filter by, and the
-- old text columns keep the detail. Rows written before keep their sentence in
-- failure_reason / reason with no code; the booking's `state` reads either.
alter table booking add column outcome text;
alter table booking_event add column outcome text;
