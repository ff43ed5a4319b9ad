//! Typed ids: small indices into the topology's flat arrays, one type per
//! kind of component so that an instance can never be used as a service.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(
    /// An availability zone.
    ZoneId
);
id!(
    /// A service (all its instances).
    ServiceId
);
id!(
    /// One instance of a service.
    InstanceId
);
id!(
    /// An operation of a service.
    EndpointId
);
id!(
    /// One call site: an endpoint calling another.
    CallId
);
id!(
    /// The pools from every instance of one caller service to one callee.
    PoolGroupId
);
id!(
    /// An entry point of the workload.
    WorkloadId
);
