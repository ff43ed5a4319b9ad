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
        // Arrays indexed by this kind of id take it as it is: no `as usize`
        // at each use, and no indexing one kind's array with another's id.
        impl<T> std::ops::Index<$name> for Vec<T> {
            type Output = T;
            #[inline]
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
            }
        }
        impl<T> std::ops::IndexMut<$name> for Vec<T> {
            #[inline]
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.index()]
            }
        }
        impl<T> std::ops::Index<$name> for [T] {
            type Output = T;
            #[inline]
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
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
id!(
    /// An activation's place in the engine's slab. Slots are reused: with
    /// the slot's epoch (or life) it names one request.
    Slot
);
id!(
    /// A fault of the scenario, in the order the plan resolved them.
    FaultId
);
id!(
    /// One connected client (its group's clients are contiguous).
    ClientId
);
