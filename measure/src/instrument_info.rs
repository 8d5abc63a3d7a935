//! What the instrument says about itself: the accelerator it ran under, the
//! cycles each probe kind costs, the correction applied to hold times, and
//! whether the final snapshot waited for every CPU. Sent as one
//! [`crate::Record::Instrument`] (tag 12) after `Begin`.

/// The machine the kernel ran on, from CPUID: the hypervisor bit of leaf 1
/// and the vendor signature of leaf `0x4000_0000`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum Accel {
    /// Not determined.
    #[default]
    Unknown = 0,
    /// No hypervisor bit: real hardware.
    Native = 1,
    /// QEMU's translator (signature `TCGTCGTCGTCG`): interrupts are taken
    /// only at translation-block starts.
    Tcg = 2,
    /// KVM (signature `KVMKVMKVM`).
    Kvm = 3,
    /// Another hypervisor.
    Other = 4,
}

impl Accel {
    pub const ALL: [Accel; 5] =
        [Accel::Unknown, Accel::Native, Accel::Tcg, Accel::Kvm, Accel::Other];

    pub const fn name(self) -> &'static str {
        match self {
            Accel::Unknown => "unknown",
            Accel::Native => "native",
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
            Accel::Other => "other",
        }
    }

    pub fn from_id(id: u8) -> Option<Accel> {
        Self::ALL.into_iter().find(|a| *a as u8 == id)
    }

    pub fn from_name(name: &str) -> Option<Accel> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Classifies CPUID: `hypervisor` is leaf 1 ECX bit 31, `signature`
    /// the 12 bytes of leaf `0x4000_0000` in EBX, ECX, EDX order.
    pub fn from_cpuid(hypervisor: bool, signature: &[u8; 12]) -> Accel {
        if !hypervisor {
            return Accel::Native;
        }
        match signature {
            b"TCGTCGTCGTCG" => Accel::Tcg,
            b"KVMKVMKVM\0\0\0" => Accel::Kvm,
            _ => Accel::Other,
        }
    }
}

/// Cycles per event of each probe kind (median over batches, the benchmark
/// loop's own iteration included), measured by the kernel at boot on
/// scratch state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct ProbeCost {
    /// One `sum` counter update.
    pub counter: u64,
    /// One log2 histogram update.
    pub hist: u64,
    /// Bookkeeping of one uncontended measured-lock acquisition and
    /// release (both TSC reads and every counter update included).
    pub lock: u64,
    /// One trace event (TSC read and ring push).
    pub trace: u64,
    /// One timer-tick sample: PC table, frame-pointer walk, stack table.
    pub stack: u64,
}

/// The instrument's own figures for one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct InstrumentInfo {
    pub accel: Accel,
    pub cost: ProbeCost,
    /// Cycles subtracted from every scheduler-lock hold: the part of the
    /// probe's own bookkeeping that falls between the two TSC reads of a
    /// hold.
    pub hold_correction: u64,
    /// The same for shared kernel locks (one counter update fewer inside
    /// the window: they have no call-site dimension).
    pub shared_hold_correction: u64,
    /// Batches the costs are medians of (0: not measured).
    pub batches: u64,
    /// Events per batch.
    pub batch_events: u64,
    /// CPUs that did not take two timer ticks between the stop and the
    /// freeze (0: the snapshot waited for every CPU; see docs/measure.md).
    pub unquiesced_cpus: u64,
    /// The scheduler tick rate (kernel `tick_hz=`).
    pub tick_hz: u64,
    /// The sample clock's rate on each CPU (kernel `sample_hz=`; with the
    /// PIT, the tick rate): one PC and stack sample per sample interrupt.
    pub sample_hz: u64,
}

impl InstrumentInfo {
    /// The fields as they go on the wire and into `measure.log`, in order
    /// (the accelerator first, as its id).
    pub(crate) fn numbers(&self) -> [u64; Self::COUNT] {
        let c = &self.cost;
        [
            self.accel as u64,
            c.counter,
            c.hist,
            c.lock,
            c.trace,
            c.stack,
            self.hold_correction,
            self.shared_hold_correction,
            self.batches,
            self.batch_events,
            self.unquiesced_cpus,
            self.tick_hz,
            self.sample_hz,
        ]
    }

    /// How many numbers an `Instrument` record carries.
    pub const COUNT: usize = 13;

    /// `key=` names of [`InstrumentInfo::numbers`] after the accelerator.
    pub const KEYS: [&'static str; Self::COUNT - 1] = [
        "counter_cycles",
        "hist_cycles",
        "lock_cycles",
        "trace_cycles",
        "stack_cycles",
        "hold_correction",
        "shared_hold_correction",
        "batches",
        "batch_events",
        "unquiesced_cpus",
        "tick_hz",
        "sample_hz",
    ];

    /// Inverse of [`InstrumentInfo::numbers`]; `None` for an unknown
    /// accelerator id.
    pub(crate) fn from_numbers(n: [u64; Self::COUNT]) -> Option<InstrumentInfo> {
        let accel = u8::try_from(n[0]).ok().and_then(Accel::from_id)?;
        Some(InstrumentInfo {
            accel,
            cost: ProbeCost { counter: n[1], hist: n[2], lock: n[3], trace: n[4], stack: n[5] },
            hold_correction: n[6],
            shared_hold_correction: n[7],
            batches: n[8],
            batch_events: n[9],
            unquiesced_cpus: n[10],
            tick_hz: n[11],
            sample_hz: n[12],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_signatures_classify() {
        assert_eq!(Accel::from_cpuid(false, b"TCGTCGTCGTCG"), Accel::Native);
        assert_eq!(Accel::from_cpuid(true, b"TCGTCGTCGTCG"), Accel::Tcg);
        assert_eq!(Accel::from_cpuid(true, b"KVMKVMKVM\0\0\0"), Accel::Kvm);
        assert_eq!(Accel::from_cpuid(true, b"Microsoft Hv"), Accel::Other);
        for a in Accel::ALL {
            assert_eq!(Accel::from_id(a as u8), Some(a));
            assert_eq!(Accel::from_name(a.name()), Some(a));
        }
        assert_eq!(Accel::from_id(9), None);
    }

    #[test]
    fn numbers_round_trip() {
        let info = InstrumentInfo {
            accel: Accel::Kvm,
            cost: ProbeCost { counter: 1, hist: 2, lock: 3, trace: 4, stack: 5 },
            hold_correction: 6,
            shared_hold_correction: 10,
            batches: 7,
            batch_events: 8,
            unquiesced_cpus: 9,
            tick_hz: 100,
            sample_hz: 997,
        };
        assert_eq!(InstrumentInfo::from_numbers(info.numbers()), Some(info));
        let mut bad = info.numbers();
        bad[0] = 77;
        assert_eq!(InstrumentInfo::from_numbers(bad), None);
    }
}
