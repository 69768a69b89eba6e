//! The data model: customers, scores, messages and their validation rules, plus timestamps.
//! Types here are plain data (serde for JSON crossing bindings); they know nothing of
//! storage, SQL or caching.

mod context;
mod customer;
mod message;
mod score;
pub mod time;
mod validate;

pub use context::{Context, ContextEntry};
pub use customer::Customer;
pub use message::{Message, NewMessage, Role};
pub use score::Score;
pub use time::{Clock, Millis};
pub use validate::{check_id, check_label, Limits, MAX_ID_BYTES, MAX_JSON_DEPTH};
