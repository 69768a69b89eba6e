//! The tiered cache: a lock-free in-memory L1 (W-TinyLFU admission, CLOCK eviction, bounded
//! by items and bytes) over persistent, compressed L2/L3 tiers in their own redb file, with
//! placement by size, TTLs, promotion by observed frequency, demotion of L1 victims, a
//! persisted hot set warmed in the background at open, and per-tier analytics.
//!
//! Three users share the tiers: the engine's hot records (customers, latest scores; see
//! [`records`]), query results ([`ResultCache`]), and the application key-value API
//! ([`TenantCache`], from `tenant.cache()`). This module owns only cache state; it reads
//! the data store (for fills and warming) but never writes it.
//!
//! Files: [`l1`] and [`sketch`] (memory tier and its policy), [`store`] (L2/L3 in redb),
//! [`tiers`] (placement, promotion, demotion, expiry), [`keys`] (key layout, versions),
//! [`records`], [`result`], [`app`] (the three users), [`warm`] and `background` (hot set,
//! threads), [`stats`], [`promote`], [`options`].

pub mod app;
mod background;
pub mod keys;
pub mod l1;
pub mod options;
pub mod promote;
pub mod records;
pub mod result;
pub mod sketch;
pub mod stats;
pub mod store;
pub mod tiers;
pub mod warm;

pub use app::{ttl_from_millis, TenantCache};
pub use l1::L1;
pub use options::CacheOptions;
pub use result::{ResultCache, ResultTicket};
pub use stats::{CacheStats, HourCount, TierStats};
pub use tiers::Cache;
