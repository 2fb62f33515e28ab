//! The flight service's HTTP contract, in one place: the catalogue's and
//! the seat inventory's requests and answers. Plain serde types over the
//! domain's; the flight service serves them, the booking activities and
//! the gateway read them, so a renamed field breaks the build on both
//! sides. Features: `sqlx` (rows load into the catalogue's types, for the
//! flight service), `openapi` (schemas, for the gateway's document).

pub mod catalogue;
pub mod inventory;
