//! thread-scale: sibling threads of one process hash disjoint contiguous
//! chunks of a pre-filled 16 MiB input buffer (capos_workloads::thread_scale).
//!
//! Args (manifest): `threads=N blocks=B rounds=R cpus=C` (defaults 1,
//! 262144, 64, 1), and `yield_every=K` (default 0, never): each worker
//! makes a `yield` system call after every K blocks of its chunk, so the
//! run-queue lock is taken thousands of times in the work phase (the
//! planted cause of `capos-harness scenarios`; the line then says
//! `bench_class=yielding-cpu`, which the benchmark rows refuse). Caps: slot 0 Console, 1 ThreadSpawner, 2 ParkSpace,
//! 3 Measure.
//!
//! Phases, guest TSC cycles, the same definitions as the Linux baseline:
//! - `spawn_ready`: from before the first `ThreadSpawner.spawn` until every
//!   worker has announced itself and parks on the start word;
//! - `work`: from the parent's stamp just before it publishes the start word
//!   (and unparks the workers) to the last worker's end stamp, taken right
//!   after its hash loop. Workers make no system call in between; the
//!   parent spends the window blocked in `ThreadHandle.join`
//!   (`parent_wait=blocking`);
//! - `shutdown`: from that last end stamp until the last join returned
//!   (thread exit, join completion, parent wake-up);
//! - `total`: from the first spawn to the last join.
//!
//! The extra field `work_to_join` is start-to-last-join (`work + shutdown`),
//! the parent's own view of the work window.
//!
//! The input is filled (so every page is touched and mapped) before any
//! timing starts. Measure marks: `spawn_ready` and `work` by the parent at
//! those phase starts, `shutdown` by the last worker to finish (after its end
//! stamp, outside the hot loop), `final_total` by the parent after the joins.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_demos::{print, rdtsc, Args};
use capos_rt::clients::{Console, Measure, ParkSpace, ThreadSpawner};
use capos_rt::{thread, Ctx};
use capos_workloads::line::{BenchClass, ParentWait, ThreadScaleLine};
use capos_workloads::thread_scale::{self as ts, Block, CachePadded, ChunkResult};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const THREADS: ThreadSpawner = ThreadSpawner(1);
const PARK: ParkSpace = ParkSpace(2);
const MEASURE: Measure = Measure(3);
const FOREVER: u64 = u64::MAX;

/// One worker's result, alone on its cache line.
#[derive(Default)]
struct Slot {
    first_block: AtomicU64,
    blocks: AtomicU64,
    digest: AtomicU64,
    end_tsc: AtomicU64,
    /// System calls the worker made in its hot section (kernel-counted).
    hot_syscalls: AtomicU64,
}

struct Shared {
    input: Vec<Block>,
    slots: Vec<CachePadded<Slot>>,
    /// Workers that are parked (or about to park) on `start`.
    ready: AtomicU32,
    /// 0 until the parent releases the workers.
    start: AtomicU32,
    /// Workers that finished their chunk.
    done: AtomicU32,
    threads: u32,
    rounds: u32,
    /// Blocks between two yields (0: no yield).
    yield_every: u64,
}

fn worker(sh: &Shared, i: u32) -> i64 {
    // Named for the measurement views (flamegraphs, timeline, who ran where).
    if capos_rt::syscall::set_thread_name(&alloc::format!("worker-{i}")).is_err() {
        return 4;
    }
    sh.ready.fetch_add(1, Ordering::AcqRel);
    let _ = PARK.unpark(&sh.ready, 1);
    while sh.start.load(Ordering::Acquire) == 0 {
        if PARK.park(&sh.start, 0, FOREVER).is_err() {
            return 2;
        }
    }
    // Hot section: no system calls until the end stamp; the kernel's count
    // of this thread's calls around it says whether that held.
    let before = capos_rt::syscall::thread_stats();
    let r = ts::chunk_range(sh.input.len() as u64, sh.threads, i);
    let chunk = &sh.input[r.start as usize..r.end as usize];
    let result = hash_yielding(chunk, r.start, sh.rounds, sh.yield_every);
    let end = rdtsc();
    let hot = capos_rt::syscall::thread_stats().since(before);
    let slot = &sh.slots[i as usize].0;
    slot.first_block.store(result.first_block, Ordering::Relaxed);
    slot.blocks.store(result.blocks, Ordering::Relaxed);
    slot.digest.store(result.digest, Ordering::Relaxed);
    slot.hot_syscalls.store(hot.syscalls, Ordering::Relaxed);
    slot.end_tsc.store(end, Ordering::Release);
    if sh.done.fetch_add(1, Ordering::AcqRel) + 1 == sh.threads {
        let _ = MEASURE.mark("shutdown");
    }
    0
}

/// [`ts::hash_chunk_blocks`], yielding the CPU after every `every` blocks
/// (0: never); the same digest either way.
fn hash_yielding(chunk: &[Block], first: u64, rounds: u32, every: u64) -> ChunkResult {
    if every == 0 {
        return ts::hash_chunk_blocks(chunk, first, rounds);
    }
    let mut acc = ChunkResult { first_block: first, blocks: 0, digest: 0 };
    for piece in chunk.chunks(every as usize) {
        let part = ts::hash_chunk_blocks(piece, first + acc.blocks, rounds);
        acc = ts::append(acc, part);
        capos_rt::syscall::yield_now();
    }
    acc
}

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    match bench(ctx.args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            print(CONSOLE, &alloc::format!("[thread-scale-error] {e}"));
            2
        }
    }
}

fn bench(args: &str) -> Result<bool, alloc::string::String> {
    let a = Args(args);
    let threads: u32 = a.num("threads", 1)?;
    let blocks: u64 = a.num("blocks", ts::DEFAULT_TOTAL_BLOCKS)?;
    let rounds: u32 = a.num("rounds", ts::DEFAULT_WORK_ROUNDS)?;
    let cpus: u32 = a.num("cpus", 1)?;
    let yield_every: u64 = a.num("yield_every", 0)?;
    if threads == 0 || threads > 32 || blocks == 0 {
        return Err(alloc::format!("unsupported threads={threads} blocks={blocks}"));
    }
    let mut input = alloc::vec![Block::ZERO; blocks as usize];
    // Touches (and so maps) every page of the input before timing.
    ts::fill_blocks(0, &mut input);
    let sh = Arc::new(Shared {
        input,
        slots: (0..threads).map(|_| CachePadded(Slot::default())).collect(),
        ready: AtomicU32::new(0),
        start: AtomicU32::new(0),
        done: AtomicU32::new(0),
        threads,
        rounds,
        yield_every,
    });

    let _ = MEASURE.mark("spawn_ready");
    let t0 = rdtsc();
    let mut handles: Vec<thread::JoinHandle> = Vec::with_capacity(threads as usize);
    for i in 0..threads {
        let s = sh.clone();
        let h = thread::spawn(THREADS, move || worker(&s, i))
            .map_err(|e| alloc::format!("spawn worker {i}: {e:?}"))?;
        handles.push(h);
    }
    loop {
        let r = sh.ready.load(Ordering::Acquire);
        if r == threads {
            break;
        }
        PARK.park(&sh.ready, r, FOREVER).map_err(|e| alloc::format!("park on ready: {e:?}"))?;
    }

    let _ = MEASURE.mark("work");
    let t_work = rdtsc();
    sh.start.store(1, Ordering::Release);
    PARK.unpark(&sh.start, threads).map_err(|e| alloc::format!("unpark workers: {e:?}"))?;
    let mut bad_exit = None;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(0) => {}
            other => bad_exit = Some(alloc::format!("worker {i} join: {other:?}")),
        }
    }
    let t_joined = rdtsc();
    let _ = MEASURE.mark("final_total");
    if let Some(e) = bad_exit {
        return Err(e);
    }

    let results: Vec<ChunkResult> = sh
        .slots
        .iter()
        .map(|s| ChunkResult {
            first_block: s.0.first_block.load(Ordering::Acquire),
            blocks: s.0.blocks.load(Ordering::Acquire),
            digest: s.0.digest.load(Ordering::Acquire),
        })
        .collect();
    let t_end =
        sh.slots.iter().map(|s| s.0.end_tsc.load(Ordering::Acquire)).max().unwrap_or(t_work);
    let checksum = ts::combine(&results);
    let verified = ts::check_cover(&results, blocks).is_ok()
        && checksum == ts::reference_checksum(blocks, rounds);
    let line = ThreadScaleLine {
        cpus,
        threads,
        blocks,
        work_rounds: rounds,
        checksum,
        spawn_ready: t_work.saturating_sub(t0),
        work: t_end.saturating_sub(t_work),
        shutdown: t_joined.saturating_sub(t_end),
        total: t_joined.saturating_sub(t0),
        parent_wait: ParentWait::Blocking,
        bench_class: if yield_every == 0 {
            BenchClass::SyscallFreeCpu
        } else {
            BenchClass::YieldingCpu
        },
        hot_section_syscalls: Some(
            sh.slots.iter().map(|s| s.0.hot_syscalls.load(Ordering::Acquire)).sum(),
        ),
        verified,
        accepted: false,
        work_ns: None,
        total_ns: None,
    };
    print(CONSOLE, &alloc::format!("{line} work_to_join={}", t_joined.saturating_sub(t_work)));
    Ok(verified)
}
