//! Hostile Cap'n Proto messages built word by word: broken framing, lying
//! segment tables, nesting past the kernel's limit of 16, far-pointer
//! loops, lists that claim more elements than the message holds or that
//! amplify traversal, text without its NUL.

use alloc::vec::Vec;
use capos_fuzzplan::rng::Rng;

/// Standard framing: segment count - 1, each segment's size in words,
/// padding to a word, then the segments.
fn frame(segs: &[&[u64]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(segs.len().saturating_sub(1) as u32).to_le_bytes());
    for s in segs {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    if out.len() % 8 != 0 {
        out.extend_from_slice(&[0; 4]);
    }
    for s in segs {
        for w in s.iter() {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

/// Struct pointer: `off` words from the end of the pointer.
fn struct_ptr(off: i32, data: u16, ptrs: u16) -> u64 {
    (((off as u32) << 2) as u64) | u64::from(data) << 32 | u64::from(ptrs) << 48
}

/// List pointer; `elem` is the element-size code (0 void .. 6 pointer, 7 composite).
fn list_ptr(off: i32, elem: u8, count: u32) -> u64 {
    1 | (((off as u32) << 2) as u64)
        | u64::from(elem & 7) << 32
        | u64::from(count & 0x1fff_ffff) << 35
}

fn far_ptr(double: bool, off: u32, segment: u32) -> u64 {
    2 | u64::from(double) << 2 | u64::from(off & 0x1fff_ffff) << 3 | u64::from(segment) << 32
}

/// Text bytes as words (a NUL is added when `nul`).
fn text_words(t: &[u8], nul: bool) -> Vec<u64> {
    let mut b = Vec::from(t);
    if nul {
        b.push(0);
    }
    b.chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

/// A hostile variant of `valid` (or something unrelated to it).
pub fn malformed(r: &mut Rng, valid: &[u8]) -> Vec<u8> {
    match r.below(14) {
        0 => valid[..r.below(valid.len() as u64 + 1) as usize].to_vec(),
        1 => {
            let mut v = valid.to_vec();
            for _ in 0..r.range(1, 8) {
                if !v.is_empty() {
                    let i = r.below(v.len() as u64) as usize;
                    v[i] ^= 1 << r.below(8);
                }
            }
            v
        }
        2 => {
            let mut v = alloc::vec![0u8; r.below(512) as usize];
            r.fill(&mut v);
            v
        }
        3 => huge_segment_count(r),
        4 => {
            let mut v = valid.to_vec();
            if v.len() >= 8 {
                let lie = r.pick(&[0u32, 1, u32::MAX, 1 << 29, (v.len() / 8) as u32]);
                v[4..8].copy_from_slice(&lie.to_le_bytes());
            }
            v
        }
        5 => many_segments(r),
        6 => deep_chain(r, struct_ptr(0, 0, 1)),
        7 => deep_chain(r, list_ptr(0, 6, 1)),
        8 => far_loops(r),
        9 => huge_lists(r),
        10 => hostile_spawn(r),
        11 => amplified(r),
        12 => r.pick(&[&[][..], &[0u8; 8][..], &[0u8; 16][..], &[0xffu8; 8][..]]).to_vec(),
        _ => {
            // A well-formed message followed by trailing garbage.
            let mut v = valid.to_vec();
            let mut tail = alloc::vec![0u8; r.range(1, 64) as usize];
            r.fill(&mut tail);
            v.extend_from_slice(&tail);
            v
        }
    }
}

fn huge_segment_count(r: &mut Rng) -> Vec<u8> {
    let count = pick!(r, 511u32, 512, 0xffff, 0xffff_fffe, 0xffff_ffff, r.next_u32());
    let mut v = Vec::from(count.to_le_bytes());
    for _ in 0..r.below(64) {
        v.extend_from_slice(&pick!(r, 0u32, 1, u32::MAX, r.next_u32()).to_le_bytes());
    }
    v
}

fn many_segments(r: &mut Rng) -> Vec<u8> {
    let n = r.range(2, 700) as usize;
    let one = [struct_ptr(0, 0, 0)];
    let empty: [u64; 0] = [];
    let segs: Vec<&[u64]> =
        (0..n).map(|i| if i == 0 || r.chance(1, 2) { &one[..] } else { &empty[..] }).collect();
    frame(&segs)
}

/// `depth` copies of a self-chaining pointer: each points at the next word.
fn deep_chain(r: &mut Rng, link: u64) -> Vec<u8> {
    let depth = pick!(r, 17u64, 18, 64, 1000, r.range(15, 1500)) as usize;
    let mut seg = alloc::vec![link; depth];
    seg.push(0);
    frame(&[&seg])
}

fn far_loops(r: &mut Rng) -> Vec<u8> {
    match r.below(5) {
        0 => frame(&[&[far_ptr(false, 0, 0)]]),
        1 => frame(&[&[far_ptr(true, 0, 0), 0]]),
        2 => frame(&[&[far_ptr(r.chance(1, 2), 0, r.range(1, u32::MAX as u64) as u32)]]),
        3 => frame(&[&[far_ptr(false, r.range(1, 0x1fff_ffff) as u32, 0)]]),
        _ => frame(&[&[far_ptr(false, 0, 1)], &[far_ptr(false, 0, 0)]]),
    }
}

fn huge_lists(r: &mut Rng) -> Vec<u8> {
    let count = pick!(r, 0x1fff_ffffu32, 0x1000_0000, 1 << 20, r.next_u32());
    match r.below(4) {
        0 => frame(&[&[list_ptr(0, r.range(1, 6) as u8, count), 0]]),
        // An inline-composite list whose tag claims far more than its words.
        1 => frame(&[&[list_ptr(0, 7, 1), struct_ptr(count as i32 & 0x3fff_ffff, 1, 0), 0]]),
        // Void elements take no space: only an element count limits them.
        2 => frame(&[&[list_ptr(0, 0, count)]]),
        _ => frame(&[&[
            struct_ptr(0, 0, 1),
            list_ptr(0, 7, 0),
            struct_ptr(count as i32 & 0x3fff_ffff, 0, 0),
        ]]),
    }
}

/// `ProcessSpawner.spawn` parameters with a hostile part: a grants list of
/// zero-sized structs claiming up to 2^30 elements, text without a NUL, a
/// text field that is a struct, or oversized names.
fn hostile_spawn(r: &mut Rng) -> Vec<u8> {
    let binary = text_words(b"exit-child", r.chance(3, 4));
    let args = text_words(b"code=0", true);
    // root -> struct(0 data, 3 ptrs) at word 1; texts and grants follow.
    let mut seg = alloc::vec![struct_ptr(0, 0, 3)];
    let texts_at = 4;
    let args_at = texts_at + binary.len();
    let grants_at = args_at + args.len();
    let bin_len = if r.chance(1, 2) { 10 + 1 } else { r.pick(&[10u32, 0, 0x1fff_ffff]) };
    seg.push(if r.chance(1, 8) {
        struct_ptr((texts_at - 2) as i32, 1, 0)
    } else {
        list_ptr((texts_at - 2) as i32, 2, bin_len)
    });
    seg.push(list_ptr((args_at - 3) as i32, 2, 7));
    let elements = pick!(r, 0x3fff_ffffu32, 1 << 20, 300, 257, r.next_u32() & 0x3fff_ffff);
    let (data, ptrs) = r.pick(&[(0u16, 0u16), (1, 0), (0, 1), (1, 1)]);
    let words = if data + ptrs == 0 { 0 } else { r.pick(&[0u32, 1, 2, 64]) };
    seg.push(list_ptr((grants_at - 4) as i32, 7, words));
    seg.extend_from_slice(&binary);
    seg.extend_from_slice(&args);
    seg.push(struct_ptr(elements as i32, data, ptrs));
    for _ in 0..words {
        seg.push(r.next_u64() & 0xff_0000_00ff);
    }
    frame(&[&seg])
}

/// Many pointers to the same data: reading every field once costs far
/// more than the message's size (the traversal limit must stop it).
fn amplified(r: &mut Rng) -> Vec<u8> {
    let ptrs = r.range(16, 600) as u16;
    let body = r.range(64, 1500) as u32;
    let mut seg = alloc::vec![struct_ptr(0, 0, ptrs)];
    for i in 0..ptrs {
        // Each pointer (at word 1 + i) targets the shared body after the struct.
        let off = i32::from(ptrs) - i32::from(i) - 1;
        seg.push(list_ptr(off, 5, body));
    }
    seg.extend(core::iter::repeat_n(0x0101_0101_0101_0101, body as usize));
    frame(&[&seg])
}
