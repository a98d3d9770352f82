//! One byte budget per guest call (`--memory-limit-mb`) that every linear
//! memory, every table element and every core instance is charged against,
//! and caps on how many of each a guest may create.
//!
//! Wasmtime's own `StoreLimits` caps each memory and table separately, so a
//! guest with sixteen memories had sixteen times the cap, and tables had no
//! cap at all. Memories and tables are charged as wasmtime asks to create or
//! grow them ([`ResourceLimiter`]); instances, for which wasmtime asks
//! nothing, are charged up front from what the component will create
//! ([`super::shape`]).

use wasmtime::ResourceLimiter;

use super::shape::Instances;

/// Core instances a guest may create; components `host build` makes have
/// three, a Python one fourteen.
pub(super) const MAX_INSTANCES: usize = 64;
/// Linear memories a guest may create; toolchains make one. Each reserves
/// gigabytes of address space even when small.
pub(super) const MAX_MEMORIES: usize = 16;
/// Tables a guest may create; toolchains make one or two.
pub(super) const MAX_TABLES: usize = 64;

/// Host bytes charged per table element. Wasmtime 48 keeps a table (a
/// funcref table: this host enables neither GC references nor stack
/// switching) in a `Vec` of 8-byte pointers (`Option<SendSyncPtr<VMFuncRef>>`,
/// `runtime/vm/table.rs`), and `table.grow` extends it with `reserve`, which
/// may double the capacity; measured: growing a table by 100 million elements
/// raised the host's peak RSS by 770 MiB, 8 bytes each.
pub(super) const TABLE_ELEMENT_BYTES: usize = 16;

/// Why the budget refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Overrun {
    /// A memory would have grown (or been created) past the budget.
    #[error("memories, tables and instances would take {wanted} bytes")]
    Memory {
        /// Bytes charged in all if it were allowed.
        wanted: usize,
    },
    /// A table would have grown (or been created) past the budget.
    #[error("a table of {elements} elements would bring the total to {wanted} bytes")]
    Table {
        /// Elements the table would have.
        elements: usize,
        /// Bytes charged in all if it were allowed.
        wanted: usize,
    },
    /// The component's instances alone would not fit.
    #[error("{count} core instances would take {wanted} bytes")]
    Instances {
        /// Core instances the component creates.
        count: u64,
        /// Bytes charged in all if they were allowed.
        wanted: usize,
    },
    /// More instances, memories or tables than a guest may have.
    #[error("{count} {what}, more than {max}")]
    Count {
        /// "core instances", "linear memories" or "tables".
        what: &'static str,
        /// How many the component creates.
        count: u64,
        /// How many a guest may have.
        max: usize,
    },
}

impl Overrun {
    /// The cause of a stopped call, in words, naming the cap and how to raise it.
    pub(super) fn cause(&self, cap: usize) -> String {
        let raise = "raise --memory-limit-mb if it legitimately needs more";
        let cap_mib = cap >> 20;
        match self {
            // Worded as before the budget was shared: scripts match it.
            Overrun::Memory { wanted } => format!(
                "it tried to grow its memory past the cap of {cap_mib} MiB (its memories, tables and instances together would take {} MiB); {raise}",
                mib(*wanted)
            ),
            Overrun::Table { elements, wanted } => format!(
                "it tried to grow a table to {elements} elements, past the cap of {cap_mib} MiB (its memories, tables and instances together would take {} MiB); {raise}",
                mib(*wanted)
            ),
            Overrun::Instances { count, wanted } => format!(
                "its {count} core instances would take {} MiB of host memory, past the cap of {cap_mib} MiB; {raise}",
                mib(*wanted)
            ),
            Overrun::Count { what, count, max } => format!(
                "it would create {count} {what}, more than the {max} the sandbox allows (components `host build` makes have a few); this component was not made for it"
            ),
        }
    }
}

/// Bytes in MiB, rounded up: a request just past the cap must not read as the cap.
fn mib(bytes: usize) -> usize {
    bytes.div_ceil(1 << 20)
}

/// What one guest call has been charged, against one cap.
#[derive(Debug)]
pub(super) struct Budget {
    cap: usize,
    used: usize,
    /// The charge of the growth allowed last, refunded if wasmtime fails it.
    pending: usize,
    /// Why the budget refused last, for the error message.
    overrun: Option<Overrun>,
}

impl Budget {
    /// An empty budget of `cap` bytes.
    pub(super) fn new(cap: usize) -> Budget {
        Budget {
            cap,
            used: 0,
            pending: 0,
            overrun: None,
        }
    }

    /// Why the budget refused last, if it did.
    pub(super) fn overrun(&self) -> Option<&Overrun> {
        self.overrun.as_ref()
    }

    /// Charges what instantiating the component creates, before it does.
    pub(super) fn admit(&mut self, instances: &Instances) -> Result<(), Overrun> {
        for (what, count, max) in [
            ("core instances", instances.count, MAX_INSTANCES),
            ("linear memories", instances.memories, MAX_MEMORIES),
            ("tables", instances.tables, MAX_TABLES),
        ] {
            if count > max as u64 {
                return self.refuse(Overrun::Count { what, count, max });
            }
        }
        let bytes = usize::try_from(instances.bytes).unwrap_or(usize::MAX);
        self.charge(bytes).or_else(|wanted| {
            self.refuse(Overrun::Instances {
                count: instances.count,
                wanted,
            })
        })
    }

    /// Charges a memory growing (or being created, from 0) from `current`
    /// to `desired` bytes.
    pub(super) fn memory(&mut self, current: usize, desired: usize) -> Result<(), Overrun> {
        self.charge(desired.saturating_sub(current))
            .or_else(|wanted| self.refuse(Overrun::Memory { wanted }))
    }

    /// Charges a table growing (or being created, from 0) from `current`
    /// to `desired` elements.
    pub(super) fn table(&mut self, current: usize, desired: usize) -> Result<(), Overrun> {
        let bytes = desired
            .saturating_sub(current)
            .saturating_mul(TABLE_ELEMENT_BYTES);
        self.charge(bytes).or_else(|wanted| {
            self.refuse(Overrun::Table {
                elements: desired,
                wanted,
            })
        })
    }

    /// Adds `bytes` if they fit; else the total they would make.
    fn charge(&mut self, bytes: usize) -> Result<(), usize> {
        let wanted = self.used.saturating_add(bytes);
        if wanted > self.cap {
            return Err(wanted);
        }
        self.used = wanted;
        self.pending = bytes;
        Ok(())
    }

    fn refuse(&mut self, overrun: Overrun) -> Result<(), Overrun> {
        self.overrun = Some(overrun.clone());
        Err(overrun)
    }

    /// Gives back the last charge: wasmtime could not grow after all.
    fn refund(&mut self) {
        self.used -= std::mem::take(&mut self.pending);
    }
}

/// A growth past the budget is an error, which wasmtime raises as a trap:
/// a guest told `-1` by `memory.grow` aborts with a message of its own
/// toolchain that names no cap. A growth the module's own maximum forbids
/// fails the WebAssembly way (`-1`), uncharged.
impl ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.memory(current, desired)?;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refund();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.table(current, desired)?;
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refund();
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn instances(count: u64, memories: u64, tables: u64, bytes: u64) -> Instances {
        Instances {
            count,
            memories,
            tables,
            bytes,
        }
    }

    #[test]
    fn memories_share_one_cap() {
        let mut b = Budget::new(64 * MIB);
        for _ in 0..3 {
            b.memory(0, 20 * MIB).unwrap();
        }
        // A fourth 20 MiB memory would make 80 MiB.
        assert_eq!(
            b.memory(0, 20 * MIB),
            Err(Overrun::Memory { wanted: 80 * MIB })
        );
        assert_eq!(b.overrun(), Some(&Overrun::Memory { wanted: 80 * MIB }));
        // Growing one of them by the 4 MiB left still fits.
        b.memory(20 * MIB, 24 * MIB).unwrap();
        assert!(b.memory(24 * MIB, 24 * MIB + 1).is_err());
    }

    #[test]
    fn tables_are_charged_per_element_against_the_same_cap() {
        let mut b = Budget::new(64 * MIB);
        b.memory(0, 32 * MIB).unwrap();
        let fit = 32 * MIB / TABLE_ELEMENT_BYTES;
        b.table(0, fit).unwrap();
        assert_eq!(
            b.table(fit, fit + 1),
            Err(Overrun::Table {
                elements: fit + 1,
                wanted: 64 * MIB + TABLE_ELEMENT_BYTES
            })
        );
        // And the memory can no longer grow at all.
        assert!(b.memory(32 * MIB, 32 * MIB + 65536).is_err());
    }

    #[test]
    fn instances_are_charged_before_memories() {
        let mut b = Budget::new(64 * MIB);
        b.admit(&instances(3, 1, 2, 60 * MIB as u64)).unwrap();
        assert!(b.memory(0, 5 * MIB).is_err());
        b.memory(0, 4 * MIB).unwrap();

        let mut b = Budget::new(64 * MIB);
        assert_eq!(
            b.admit(&instances(60, 0, 0, 60 * 16 * MIB as u64)),
            Err(Overrun::Instances {
                count: 60,
                wanted: 960 * MIB
            })
        );
    }

    #[test]
    fn counts_are_capped_whatever_they_cost() {
        let mut b = Budget::new(usize::MAX);
        b.admit(&instances(MAX_INSTANCES as u64, 1, 2, 0)).unwrap();
        for (i, what, max) in [
            (
                instances(MAX_INSTANCES as u64 + 1, 0, 0, 0),
                "core instances",
                MAX_INSTANCES,
            ),
            (
                instances(1, MAX_MEMORIES as u64 + 1, 0, 0),
                "linear memories",
                MAX_MEMORIES,
            ),
            (
                instances(1, 0, MAX_TABLES as u64 + 1, 0),
                "tables",
                MAX_TABLES,
            ),
        ] {
            let count = match what {
                "core instances" => i.count,
                "linear memories" => i.memories,
                _ => i.tables,
            };
            assert_eq!(
                Budget::new(usize::MAX).admit(&i),
                Err(Overrun::Count { what, count, max })
            );
        }
    }

    #[test]
    fn a_failed_growth_is_refunded() {
        let mut b = Budget::new(64 * MIB);
        assert!(b.memory_growing(0, 40 * MIB, None).unwrap());
        b.memory_grow_failed(wasmtime::Error::msg("mmap failed"))
            .unwrap();
        // The 40 MiB that never came are not charged.
        assert!(b.memory_growing(0, 60 * MIB, None).unwrap());
        assert!(b.table_growing(0, MIB / TABLE_ELEMENT_BYTES, None).unwrap());
        b.table_grow_failed(wasmtime::Error::msg("no")).unwrap();
        assert!(
            b.table_growing(0, 4 * MIB / TABLE_ELEMENT_BYTES, None)
                .unwrap()
        );
    }

    #[test]
    fn a_growth_past_the_modules_own_maximum_fails_uncharged() {
        let mut b = Budget::new(64 * MIB);
        assert!(!b.memory_growing(MIB, 2 * MIB, Some(MIB)).unwrap());
        assert!(!b.table_growing(10, 11, Some(10)).unwrap());
        assert!(b.memory_growing(0, 64 * MIB, None).unwrap());
    }

    #[test]
    fn a_growth_past_the_budget_is_a_trap_not_minus_one() {
        let mut b = Budget::new(64 * MIB);
        let e = b.memory_growing(0, 65 * MIB, None).unwrap_err();
        assert_eq!(
            e.downcast_ref::<Overrun>(),
            Some(&Overrun::Memory { wanted: 65 * MIB })
        );
        assert!(b.table_growing(0, usize::MAX, None).is_err());
    }

    #[test]
    fn causes_name_the_cap_and_the_flag() {
        let cause = Overrun::Memory {
            wanted: 64 * MIB + 1,
        }
        .cause(64 * MIB);
        // What the hostile tests and earlier releases print.
        assert!(
            cause.starts_with("it tried to grow its memory past the cap of 64 MiB")
                && cause.contains("would take 65 MiB")
                && cause.ends_with("raise --memory-limit-mb if it legitimately needs more"),
            "{cause}"
        );
        let cause = Overrun::Table {
            elements: 100_000_000,
            wanted: 1600 * MIB,
        }
        .cause(64 * MIB);
        assert!(
            cause.contains("table to 100000000 elements, past the cap of 64 MiB")
                && cause.contains("--memory-limit-mb"),
            "{cause}"
        );
        let cause = Overrun::Count {
            what: "linear memories",
            count: 17,
            max: 16,
        }
        .cause(64 * MIB);
        assert!(
            cause.contains("17 linear memories, more than the 16"),
            "{cause}"
        );
    }
}
