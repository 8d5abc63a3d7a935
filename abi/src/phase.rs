//! Measurement phases: the one list of their names and order.
//!
//! User space marks `spawn_ready`, `work`, `shutdown` and `final_total`
//! (through `Measure.mark`), each later than the last; `boot` runs from
//! start-up to the first mark and `aggregate` is the whole run. Every
//! kernel (measured or not) enforces the order, and the measure subsystem
//! reports one set of counters per phase.

/// A phase label. The numeric values are wire ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum Phase {
    Boot = 0,
    SpawnReady = 1,
    Work = 2,
    Shutdown = 3,
    FinalTotal = 4,
    Aggregate = 5,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Boot,
        Phase::SpawnReady,
        Phase::Work,
        Phase::Shutdown,
        Phase::FinalTotal,
        Phase::Aggregate,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Phase::Boot => "boot",
            Phase::SpawnReady => "spawn_ready",
            Phase::Work => "work",
            Phase::Shutdown => "shutdown",
            Phase::FinalTotal => "final_total",
            Phase::Aggregate => "aggregate",
        }
    }

    /// Whether user space may mark this phase (`boot` and `aggregate` are
    /// the kernel's own).
    pub const fn is_mark(self) -> bool {
        matches!(self, Phase::SpawnReady | Phase::Work | Phase::Shutdown | Phase::FinalTotal)
    }

    pub fn from_id(id: u8) -> Option<Phase> {
        Phase::ALL.get(id as usize).copied()
    }

    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.iter().copied().find(|p| p.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip_and_marks_are_the_middle_four() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_name(p.name()), Some(p));
            assert_eq!(Phase::from_id(p as u8), Some(p));
        }
        let marks: Vec<&str> =
            Phase::ALL.iter().filter(|p| p.is_mark()).map(|p| p.name()).collect();
        assert_eq!(marks, ["spawn_ready", "work", "shutdown", "final_total"]);
        assert_eq!(Phase::from_name("Work"), None);
    }
}
