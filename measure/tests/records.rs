//! Wire records: round trip of every kind, clear errors, and a fuzz loop.

use capos_measure::catalogue::{scheduler_lock, shared_kernel_lock, SchedLockSite, SharedLock};
use capos_measure::lock_pairs::{PairSums, UNKNOWN_HOLDER};
use capos_measure::thread_ops::ThreadOps;
use capos_measure::{
    decode, decode_all, encode, Accel, ContentionClass, DecodeError, HeldLock, InstrumentInfo,
    Phase, ProbeCost, Record, SampleMode, SampleTag, TraceEvent, TraceKind, WIRE_VERSION,
};

fn every_kind() -> Vec<Record> {
    vec![
        Record::Begin { cpus: 4, tsc_khz: 2_000_000, catalogue: capos_measure::FINGERPRINT },
        Record::Instrument(InstrumentInfo {
            accel: Accel::Tcg,
            cost: ProbeCost { counter: 7, hist: 9, lock: 150, trace: 40, stack: u64::MAX },
            hold_correction: 66,
            shared_hold_correction: 44,
            batches: 9,
            batch_events: 256,
            unquiesced_cpus: 1,
            tick_hz: 100,
            sample_hz: 997,
        }),
        Record::Counter {
            phase: Phase::Work,
            counter: scheduler_lock::wait_cycles.into(),
            value: u64::MAX,
        },
        Record::Counter {
            phase: Phase::Aggregate,
            counter: shared_kernel_lock::hold_min.at(SharedLock::AddressSpace),
            value: 0,
        },
        Record::Hist {
            phase: Phase::Boot,
            hist: scheduler_lock::wait.into(),
            buckets: vec![(0, 1), (3, 10), (63, 2)],
        },
        Record::Hist {
            phase: Phase::Shutdown,
            hist: shared_kernel_lock::hold.at(SharedLock::Heap),
            buckets: vec![],
        },
        Record::PcSample {
            phase: Phase::FinalTotal,
            tag: SampleTag {
                cpu: u8::MAX,
                pid: u32::MAX,
                tid: u64::MAX,
                mode: SampleMode::Interrupt,
                lock: HeldLock::new(ContentionClass::SharedKernelLock, SharedLock::Heap as u8),
            },
            pc: 0xffff_ffff_8010_0000,
            count: 7,
        },
        Record::PcSample {
            phase: Phase::Work,
            tag: SampleTag {
                cpu: 1,
                pid: 0,
                tid: 0x1_0000_0001,
                mode: SampleMode::Idle,
                lock: HeldLock::new(
                    ContentionClass::SchedulerLock,
                    SchedLockSite::TimerSelect as u8,
                ),
            },
            pc: 0xffff_ffff_8010_0000,
            count: 1,
        },
        Record::StackSample {
            phase: Phase::Work,
            tag: SampleTag {
                cpu: 1,
                pid: 3,
                tid: 0x1_0000_0004,
                mode: SampleMode::User,
                lock: None,
            },
            frames: (0..16).map(|i| 0x40_0000 + i).collect(),
            count: 3,
        },
        Record::StackSample {
            phase: Phase::Work,
            tag: SampleTag::mode_only(SampleMode::Kernel),
            frames: vec![],
            count: 1,
        },
        Record::ContentionStack {
            phase: Phase::Work,
            class: ContentionClass::SchedulerLock as u8,
            lock: SchedLockSite::TimerSelect as u8,
            frames: (0..16).map(|i| 0xffff_ffff_8000_0000 + i).collect(),
            count: 3,
            wait_cycles: u64::MAX,
        },
        Record::ContentionStack {
            phase: Phase::Aggregate,
            class: ContentionClass::SharedKernelLock as u8,
            lock: SharedLock::AddressSpace as u8,
            frames: vec![],
            count: 0,
            wait_cycles: 0,
        },
        Record::LockPair {
            phase: Phase::Work,
            class: ContentionClass::SchedulerLock as u8,
            waiter: SchedLockSite::WakeUnblock as u8,
            holder: SchedLockSite::Steal as u8,
            sums: PairSums { count: 3, wait_cycles: u64::MAX, cross_cpu: 3 },
        },
        Record::LockPair {
            phase: Phase::Aggregate,
            class: ContentionClass::SharedKernelLock as u8,
            waiter: SharedLock::Heap as u8,
            holder: UNKNOWN_HOLDER,
            sums: PairSums { count: 1, wait_cycles: 0, cross_cpu: 0 },
        },
        Record::Trace(TraceEvent {
            tsc: 1 << 40,
            kind: TraceKind::ContextSwitch,
            cpu: 15,
            flags: 0xff,
            a: 1,
            b: u64::MAX,
        }),
        Record::ThreadOps(ThreadOps {
            phase: Phase::Work,
            thread: u64::MAX,
            pid: u32::MAX,
            syscalls: 1 << 50,
            ring_sqes: 0,
        }),
        Record::TraceDropped { cpu: 3, dropped: 12 },
        Record::PhaseMark { phase: Phase::SpawnReady, tsc: 123 },
        Record::LoadMap { pid: 9, binary: "thread-scale/worker é".into(), base: 0x40_0000 },
        Record::ThreadName { thread: 1 << 32 | 4, pid: 3, name: "worker-\u{e9}".into() },
        Record::StackDef {
            id: u32::MAX,
            tag: SampleTag { cpu: 2, pid: 3, tid: 1 << 32 | 4, mode: SampleMode::User, lock: None },
            frames: vec![0x40_1000, 0x40_2000],
        },
        Record::TimedSamples { cpu: 1, samples: vec![(u64::MAX - 5, 1), (3, 0), (3, 7), (9, 1)] },
        Record::CpuTime { phase: Phase::Work, cpu: 3, cycles: [1, 0, u64::MAX, 4, 5, 6, 7] },
        Record::ThreadTime(capos_measure::thread_time::ThreadTime {
            phase: Phase::Shutdown,
            thread: 3 << 32 | 7,
            pid: 2,
            cycles: [1, 2, 3, u64::MAX, 0, 0, 7, 8, 9],
        }),
        Record::RunDelay(capos_measure::run_delay::DelayHist {
            phase: Phase::Work,
            cpu: 2,
            kind: 1,
            sum: u64::MAX,
            buckets: vec![(0, 1), (35, 2), (251, 3)],
        }),
        Record::RunDelayWorst {
            phase: Phase::Aggregate,
            cpu: 1,
            worst: capos_measure::run_delay::WorstDelay {
                cycles: 1_010,
                kind: 0,
                thread: 3 << 32 | 7,
                pid: 2,
                waker: 1 << 32 | 2,
                frames: vec![0xffff_ffff_8000_1000, 0xffff_ffff_8000_2000],
            },
        },
        Record::OffCpuStack {
            phase: Phase::Work,
            reason: 6,
            frames: vec![0xffff_ffff_8000_1000],
            count: 2,
            blocked_cycles: u64::MAX,
        },
        Record::End { tsc: 456, records: 11 },
    ]
}

#[test]
fn every_record_kind_round_trips() {
    let mut stream = Vec::new();
    for record in every_kind() {
        let mut buf = Vec::new();
        encode(&record, &mut buf);
        assert_eq!(buf[0], WIRE_VERSION);
        let (back, used) = decode(&buf).unwrap_or_else(|e| panic!("{record:?}: {e}"));
        assert_eq!(back, record);
        assert_eq!(used, buf.len());
        stream.extend_from_slice(&buf);
    }
    assert_eq!(decode_all(&stream).unwrap(), every_kind());
    for kind in TraceKind::ALL {
        let r = Record::Trace(TraceEvent { tsc: 1, kind: *kind, cpu: 0, flags: 0, a: 0, b: 0 });
        let mut buf = Vec::new();
        encode(&r, &mut buf);
        assert_eq!(decode(&buf).unwrap().0, r);
    }
}

#[test]
fn an_unknown_accelerator_is_refused() {
    let mut buf = Vec::new();
    encode(&Record::Instrument(InstrumentInfo::default()), &mut buf);
    assert_eq!(buf[1], 12, "Instrument is tag 12");
    buf[2] = 99; // accelerator id
    assert!(matches!(
        decode(&buf),
        Err(DecodeError::OutOfRange { what: "accelerator", value: 99 })
    ));
}

#[test]
fn garbage_gets_clear_errors() {
    assert_eq!(decode(&[]), Err(DecodeError::Truncated(0)));
    assert_eq!(
        decode(&[9, 1]),
        Err(DecodeError::VersionMismatch { found: 9, expected: WIRE_VERSION })
    );
    assert_eq!(decode(&[WIRE_VERSION, 200]), Err(DecodeError::UnknownTag(200)));
    assert_eq!(decode(&[WIRE_VERSION, 2, 9, 0, 0, 0, 1]), Err(DecodeError::BadPhase(9)));
    assert_eq!(decode(&[WIRE_VERSION, 2, 2, 100, 0, 0, 1]), Err(DecodeError::BadGroup(100)));
    // scheduler_lock (group 0) has no dimension, and 11 fields.
    assert_eq!(
        decode(&[WIRE_VERSION, 2, 2, 0, 1, 0, 1]),
        Err(DecodeError::BadDimension { group: 0, dim: 1 })
    );
    assert_eq!(
        decode(&[WIRE_VERSION, 2, 2, 0, 0, 11, 1]),
        Err(DecodeError::BadField { group: 0, field: 11 })
    );
    assert_eq!(
        decode(&[WIRE_VERSION, 3, 2, 0, 0, 2, 0]),
        Err(DecodeError::BadHist { group: 0, hist: 2 })
    );
    assert_eq!(
        decode(&[WIRE_VERSION, 3, 2, 0, 0, 0, 2, 5, 1, 5, 1]),
        Err(DecodeError::BadBucket(5))
    );
    assert_eq!(decode(&[WIRE_VERSION, 3, 2, 0, 0, 0, 1, 64, 1]), Err(DecodeError::BadBucket(64)));
    // Sample tags: cpu, pid, tid, mode, lock code.
    assert_eq!(decode(&[WIRE_VERSION, 4, 2, 0, 0, 0, 4, 0, 0, 0]), Err(DecodeError::BadMode(4)));
    assert_eq!(
        decode(&[WIRE_VERSION, 4, 2, 0x80, 2, 0, 0, 0, 0, 0, 0]),
        Err(DecodeError::OutOfRange { what: "sample cpu", value: 256 })
    );
    // Lock code 0x80 0x04 = 512: class 1, lock 255 (no such shared lock);
    // 0x81 0x06 = 769: class 3 (no such class).
    for code in [[0x80, 0x04], [0x81, 0x06]] {
        let value = u64::from(code[0] & 0x7f) | u64::from(code[1]) << 7;
        let bytes = [WIRE_VERSION, 4, 2, 0, 0, 0, 0, code[0], code[1], 0, 0];
        assert_eq!(decode(&bytes), Err(DecodeError::OutOfRange { what: "sample lock", value }));
    }
    // A stream from the untagged encoding (version 1) is refused by name.
    assert_eq!(
        decode(&[1, 4, 2, 0, 0, 0]),
        Err(DecodeError::VersionMismatch { found: 1, expected: WIRE_VERSION })
    );
    assert_eq!(decode(&[WIRE_VERSION, 6, 0, 99, 0, 0, 0, 0]), Err(DecodeError::BadTraceKind(99)));
    assert_eq!(decode(&[WIRE_VERSION, 9, 1, 1, 2, 0xff, 0xfe]), Err(DecodeError::BadUtf8));
    assert_eq!(decode(&[WIRE_VERSION, 9, 1, 1, 5, b'a']), Err(DecodeError::Truncated(6)));
    let mut long = vec![WIRE_VERSION, 8, 2];
    long.extend([0xff; 10]);
    long.push(0);
    assert_eq!(decode(&long), Err(DecodeError::VarintOverflow(3)));
    let frames17 = [WIRE_VERSION, 5, 2, 0, 0, 0, 0, 0, 1, 17];
    assert!(matches!(decode(&frames17), Err(DecodeError::OutOfRange { what: "frame count", .. })));
    // Contention stacks: unknown class, lock past the class's dimension,
    // too many frames.
    assert_eq!(
        decode(&[WIRE_VERSION, 11, 2, 2, 0, 1, 1, 0]),
        Err(DecodeError::OutOfRange { what: "contention class", value: 2 })
    );
    let sites = SchedLockSite::ALL.len() as u8;
    assert!(decode(&[WIRE_VERSION, 11, 2, 0, sites - 1, 1, 1, 0]).is_ok());
    assert_eq!(
        decode(&[WIRE_VERSION, 11, 2, 0, sites, 1, 1, 0]),
        Err(DecodeError::OutOfRange { what: "contention lock", value: sites as u64 })
    );
    // Lock pairs: phase, class, waiter, holder, count, wait, cross-CPU. A
    // waiter past the dimension, and a holder past it that is not
    // `unknown` (255, two varint bytes 0xff 0x01), are refused.
    assert!(decode(&[WIRE_VERSION, 18, 2, 0, sites - 1, sites - 1, 1, 1, 1]).is_ok());
    assert!(decode(&[WIRE_VERSION, 18, 2, 0, 0, 0xff, 0x01, 1, 1, 1]).is_ok());
    assert_eq!(
        decode(&[WIRE_VERSION, 18, 2, 0, sites, 0, 1, 1, 1]),
        Err(DecodeError::OutOfRange { what: "pair waiter", value: sites as u64 })
    );
    assert_eq!(
        decode(&[WIRE_VERSION, 18, 2, 0, 0, sites, 1, 1, 1]),
        Err(DecodeError::OutOfRange { what: "pair holder", value: sites as u64 })
    );
    assert_eq!(
        decode(&[WIRE_VERSION, 18, 2, 2, 0, 0, 1, 1, 1]),
        Err(DecodeError::OutOfRange { what: "contention class", value: 2 })
    );
    let locks = SharedLock::ALL.len() as u8;
    assert!(decode(&[WIRE_VERSION, 11, 2, 1, locks - 1, 1, 1, 0]).is_ok());
    assert!(matches!(
        decode(&[WIRE_VERSION, 11, 2, 1, locks, 1, 1, 0]),
        Err(DecodeError::OutOfRange { .. })
    ));
    assert_eq!(decode(&[WIRE_VERSION, 11, 9, 0, 0, 1, 1, 0]), Err(DecodeError::BadPhase(9)));
    assert_eq!(
        decode(&[WIRE_VERSION, 11, 2, 0, 0, 1, 1, 17]),
        Err(DecodeError::OutOfRange { what: "frame count", value: 17 })
    );
    // Every strict prefix of a valid record is truncated, never misread.
    for record in every_kind() {
        let mut buf = Vec::new();
        encode(&record, &mut buf);
        for cut in 0..buf.len() {
            assert!(
                matches!(decode(&buf[..cut]), Err(DecodeError::Truncated(_))),
                "{record:?} cut at {cut}"
            );
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn decoder_survives_mutation_fuzz() {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let seeds: Vec<Vec<u8>> = every_kind()
        .iter()
        .map(|r| {
            let mut b = Vec::new();
            encode(r, &mut b);
            b
        })
        .collect();
    let (mut ok, mut err) = (0u32, 0u32);
    for round in 0..200_000 {
        let mut buf = seeds[rng.below(seeds.len())].clone();
        match round % 4 {
            0 => {
                // Random bytes after a valid header.
                buf.truncate(2);
                let n = rng.below(40);
                buf.extend((0..n).map(|_| rng.next() as u8));
            }
            _ => {
                for _ in 0..=rng.below(4) {
                    match rng.below(4) {
                        0 if !buf.is_empty() => {
                            let i = rng.below(buf.len());
                            buf[i] ^= 1 << rng.below(8);
                        }
                        1 if !buf.is_empty() => {
                            let i = rng.below(buf.len());
                            buf[i] = rng.next() as u8;
                        }
                        2 => {
                            let i = rng.below(buf.len() + 1);
                            buf.insert(i, rng.next() as u8);
                        }
                        _ if !buf.is_empty() => {
                            let i = rng.below(buf.len());
                            buf.remove(i);
                        }
                        _ => {}
                    }
                }
            }
        }
        match decode(&buf) {
            Ok((record, used)) => {
                assert!(used <= buf.len());
                // Whatever decodes must survive its own re-encoding.
                let mut again = Vec::new();
                encode(&record, &mut again);
                let (back, _) = decode(&again).expect("re-encoded record decodes");
                assert_eq!(back, record);
                ok += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    assert!(ok > 1000 && err > 1000, "fuzz explored both paths: ok={ok} err={err}");
}

#[test]
fn report_stream_checks_catalogue_and_counts_lost_records() {
    use capos_measure::report::{Report, ReportBuilder, ReportError};
    let mut bytes = Vec::new();
    let records = [
        Record::Begin { cpus: 2, tsc_khz: 1, catalogue: capos_measure::FINGERPRINT },
        Record::PhaseMark { phase: Phase::Work, tsc: 10 },
        // One record "lost in transit": End says 3 were sent before it.
        Record::End { tsc: 20, records: 3 },
    ];
    for r in &records {
        encode(r, &mut bytes);
    }
    let report = Report::from_bytes(&bytes).unwrap();
    assert_eq!(report.end.map(|e| e.lost), Some(1));
    assert_eq!(report.phase_cycles.get(&Phase::Work), Some(&10));

    let mut b = ReportBuilder::new();
    let wrong = Record::Begin { cpus: 2, tsc_khz: 1, catalogue: capos_measure::FINGERPRINT ^ 1 };
    assert!(matches!(b.push(wrong), Err(ReportError::CatalogueMismatch { .. })));
    assert!(matches!(b.push_bytes(&[WIRE_VERSION, 77]), Err(ReportError::Decode { .. })));
    b.push(Record::End { tsc: 1, records: 0 }).unwrap();
    assert!(matches!(b.push(Record::End { tsc: 2, records: 0 }), Err(ReportError::AfterEnd)));
    let mut bad = bytes.clone();
    bad.push(0xee);
    assert!(matches!(Report::from_bytes(&bad), Err(ReportError::Decode { index: 3, .. })));
}
