//! Why a request or call failed: the vocabulary the engine records, the
//! files name and the analysis reads.

/// Why a request or call failed, as the component that saw it fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorClass {
    /// The caller's timer fired before the response came.
    Timeout = 0,
    /// The callee's instance had every worker busy and a full queue.
    QueueFull = 1,
    /// No connection could be had from the caller's pool in time.
    PoolExhausted = 2,
    /// The load balancer had no instance to route to.
    NoHealthyInstance = 3,
    /// The chosen instance's process is dead: the connection was refused.
    Refused = 4,
    /// An injected error fault answered for the callee.
    Injected = 5,
    /// The caller's circuit breaker was open: the call was not sent.
    CircuitOpen = 6,
    /// The instance turned the request away to protect itself (load
    /// shedding).
    Shed = 7,
    /// The callee answered with an error of its own.
    Downstream = 8,
    /// The callee's rate limit had no token for the request (HTTP 429):
    /// answered at once, with a retry-after.
    Throttled = 9,
}

/// Number of error classes (columns `err_*` in the files).
pub const ERROR_CLASSES: usize = ErrorClass::ALL.len();

impl ErrorClass {
    pub const ALL: [ErrorClass; 10] = [
        ErrorClass::Timeout,
        ErrorClass::QueueFull,
        ErrorClass::PoolExhausted,
        ErrorClass::NoHealthyInstance,
        ErrorClass::Refused,
        ErrorClass::Injected,
        ErrorClass::CircuitOpen,
        ErrorClass::Shed,
        ErrorClass::Downstream,
        ErrorClass::Throttled,
    ];

    pub fn from_name(name: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::QueueFull => "queue_full",
            ErrorClass::PoolExhausted => "pool_exhausted",
            ErrorClass::NoHealthyInstance => "no_healthy_instance",
            ErrorClass::Refused => "refused",
            ErrorClass::Injected => "injected",
            ErrorClass::CircuitOpen => "circuit_open",
            ErrorClass::Shed => "shed",
            ErrorClass::Downstream => "downstream",
            ErrorClass::Throttled => "throttled",
        }
    }
}

/// How a request or call ended.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    Ok,
    Err(ErrorClass),
}

impl Outcome {
    /// The error class, if it failed.
    #[inline]
    pub fn err(self) -> Option<ErrorClass> {
        match self {
            Outcome::Ok => None,
            Outcome::Err(class) => Some(class),
        }
    }
}
