//! Thread-scale on Linux: one std (pthread) worker per thread, each hashing
//! its contiguous chunk of a pre-filled input buffer into its own padded slot.
//!
//! Phases (TSC cycles): `spawn_ready` from before the first spawn until every
//! worker waits at the start barrier; `work` from the barrier's release until
//! the last worker's end stamp; `shutdown` from there until all are joined.
//! The parent blocks in the barrier and in join (`parent_wait=blocking`);
//! the workers make no system call between the barrier and their end stamp.

use std::sync::Barrier;

use capos_workloads::line::{BenchClass, ParentWait, ThreadScaleLine};
use capos_workloads::thread_scale::{self as ts, Block, CachePadded, ChunkResult};

use crate::clock::{mono_ns, rdtsc};

#[derive(Clone, Copy, Default)]
struct Slot {
    result: ChunkResult,
    end_cycles: u64,
    end_ns: u64,
}

pub fn run(cpus: u32, threads: u32, blocks: u64, rounds: u32) -> Result<ThreadScaleLine, String> {
    let len =
        usize::try_from(blocks).map_err(|_| format!("{blocks} blocks do not fit in memory"))?;
    let mut input = Vec::new();
    input.try_reserve_exact(len).map_err(|e| format!("cannot allocate {blocks} blocks: {e}"))?;
    input.resize(len, Block::ZERO);
    ts::fill_blocks(0, &mut input);
    let mut slots = vec![CachePadded(Slot::default()); threads as usize];
    let start = Barrier::new(threads as usize + 1);

    let t0 = rdtsc();
    let ns0 = mono_ns();
    let (ready, ready_ns) = std::thread::scope(|s| -> Result<(u64, u64), String> {
        for (i, slot) in slots.iter_mut().enumerate() {
            let range = ts::chunk_range(blocks, threads, i as u32);
            let chunk = &input[range.start as usize..range.end as usize];
            let start = &start;
            std::thread::Builder::new()
                .name(format!("worker{i}"))
                .spawn_scoped(s, move || {
                    start.wait();
                    let result = ts::hash_chunk_blocks(chunk, range.start, rounds);
                    let end_cycles = rdtsc();
                    slot.0 = Slot { result, end_cycles, end_ns: mono_ns() };
                })
                .map_err(|e| format!("cannot spawn worker {i}: {e}"))?;
        }
        start.wait();
        Ok((rdtsc(), mono_ns()))
    })?;
    let joined = rdtsc();
    let joined_ns = mono_ns();

    let end = slots.iter().map(|s| s.0.end_cycles).max().unwrap_or(ready);
    let end_ns = slots.iter().map(|s| s.0.end_ns).max().unwrap_or(ready_ns);
    let results: Vec<ChunkResult> = slots.iter().map(|s| s.0.result).collect();
    let checksum = ts::combine(&results);
    let want = ts::reference_checksum(blocks, rounds);
    let verified = ts::check_cover(&results, blocks).is_ok() && checksum == want;
    Ok(ThreadScaleLine {
        cpus,
        threads,
        blocks,
        work_rounds: rounds,
        checksum,
        spawn_ready: ready.saturating_sub(t0),
        work: end.saturating_sub(ready),
        shutdown: joined.saturating_sub(end),
        total: joined.saturating_sub(t0),
        parent_wait: ParentWait::Blocking,
        bench_class: BenchClass::SyscallFreeCpu,
        // Linux keeps no per-thread system-call count a program can read.
        hot_section_syscalls: None,
        verified,
        accepted: false,
        work_ns: Some(end_ns.saturating_sub(ready_ns)),
        total_ns: Some(joined_ns.saturating_sub(ns0)),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_run_verifies() {
        let l = super::run(2, 3, 1000, 2).unwrap();
        assert!(l.verified, "{l}");
        assert!(l.total >= l.work);
    }
}
