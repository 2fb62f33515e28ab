-- A booking whose failed step could not be undone automatically waits for
-- ops in `needs_attention` (docs/ops.md, "Bookings that need attention").
alter table booking drop constraint booking_status_check;
alter table booking add constraint booking_status_check check (status in (
    'holding', 'awaiting_payment', 'confirming', 'confirmed',
    'expired', 'cancelled', 'failed', 'completed', 'needs_attention'));
