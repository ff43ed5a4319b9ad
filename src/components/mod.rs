//! The parts of an architecture that hold state while a run goes on:
//! instances, load balancers, connection pools, arrival processes and work
//! times. Each is plain data plus small methods; the engine wires them.

pub mod arrivals;
pub mod balancer;
pub mod breaker;
pub mod cache;
pub mod instance;
pub mod limiter;
pub mod pool;
pub mod retry;
pub mod work;
