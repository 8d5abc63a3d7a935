//! The statistics of `compare`: the relative change of a median between two
//! sets of runs, its 95% confidence interval by the percentile bootstrap,
//! and the verdict.
//!
//! Each side's runs are resampled with replacement, independently, and the
//! statistic (the change of the medians, or of a ratio of medians such as a
//! speedup) is recomputed on every resample; the interval is the 2.5th to
//! 97.5th percentile of those values. The generator is seeded, so one pair
//! of run directories always gives the same interval.
//!
//! A change is called only when the interval excludes zero and the change
//! itself is larger than the noise threshold (as criterion does): with the
//! few runs a benchmark makes under TCG on a shared host, an interval alone
//! calls run-to-run drift a change too often.

/// Resamples per interval.
pub const RESAMPLES: usize = 10_000;
/// Fewest runs on each side for a verdict.
pub const MIN_RUNS: usize = 3;
/// The generator's seed.
const SEED: u64 = 0x5eed_c0de_ca05_0001;

/// Which way is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Times, waits: smaller is better.
    Lower,
    /// Speedups: larger is better.
    Higher,
}

/// The verdict on one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    /// The interval includes zero or the change is within the noise.
    NoChange,
    /// Too few runs on a side for an interval.
    NotJudged,
}

impl Verdict {
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoChange => "no significant change",
            Verdict::NotJudged => "not judged",
        }
    }
}

/// One metric's change from A to B.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub a: f64,
    pub b: f64,
    /// `b / a - 1` (NaN when `a` is 0).
    pub rel: f64,
    /// The 95% interval of `rel`, when each side has [`MIN_RUNS`] runs.
    pub ci: Option<(f64, f64)>,
    pub verdict: Verdict,
}

/// The median (mean of the middle two for an even count); NaN when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        f64::NAN
    } else {
        b / a - 1.0
    }
}

fn resample(rng: &mut fastrand::Rng, v: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.extend((0..v.len()).map(|_| v[rng.usize(..v.len())]));
}

/// The 2.5th and 97.5th percentiles of `values` (sorted in place).
fn percentiles(values: &mut [f64]) -> Option<(f64, f64)> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return None;
    }
    let at = |q: f64| values[((q * (n - 1) as f64).round() as usize).min(n - 1)];
    Some((at(0.025), at(0.975)))
}

/// The verdict on `rel` with interval `ci` under `noise` (a fraction).
fn judge(rel: f64, ci: Option<(f64, f64)>, noise: f64, better: Better) -> Verdict {
    let Some((lo, hi)) = ci else { return Verdict::NotJudged };
    if rel.is_nan() || (lo <= 0.0 && hi >= 0.0) || rel.abs() <= noise {
        return Verdict::NoChange;
    }
    match (better, rel > 0.0) {
        (Better::Lower, true) | (Better::Higher, false) => Verdict::Worse,
        _ => Verdict::Better,
    }
}

/// The 95% percentile-bootstrap interval of `stat` over `sets`: each set
/// resampled on its own, in order, [`RESAMPLES`] times; NaN values of
/// `stat` are left out.
fn interval(sets: &[&[f64]], stat: impl Fn(&[Vec<f64>]) -> f64) -> Option<(f64, f64)> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut bufs: Vec<Vec<f64>> = vec![Vec::new(); sets.len()];
    let mut vals = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for (buf, src) in bufs.iter_mut().zip(sets) {
            resample(&mut rng, src, buf);
        }
        let x = stat(&bufs);
        if !x.is_nan() {
            vals.push(x);
        }
    }
    percentiles(&mut vals)
}

/// The change of the median from runs `a` to runs `b`.
pub fn median_change(a: &[f64], b: &[f64], noise: f64, better: Better) -> Change {
    let (ma, mb) = (median(a), median(b));
    let r = rel(ma, mb);
    let ci = (a.len() >= MIN_RUNS && b.len() >= MIN_RUNS && ma != 0.0)
        .then(|| interval(&[a, b], |s| rel(median(&s[0]), median(&s[1]))))
        .flatten();
    Change { a: ma, b: mb, rel: r, ci, verdict: judge(r, ci, noise, better) }
}

/// The change of a ratio of medians (`median(num) / median(den)`, e.g. a
/// speedup: 1-worker time over N-worker time) from side A to side B; each
/// of the four sets of runs is resampled on its own.
pub fn ratio_change(
    a: (&[f64], &[f64]),
    b: (&[f64], &[f64]),
    noise: f64,
    better: Better,
) -> Change {
    let ratio = |num: &[f64], den: &[f64]| {
        let d = median(den);
        if d == 0.0 {
            f64::NAN
        } else {
            median(num) / d
        }
    };
    let (ra, rb) = (ratio(a.0, a.1), ratio(b.0, b.1));
    let r = rel(ra, rb);
    let sets = [a.0, a.1, b.0, b.1];
    let ci = (sets.iter().all(|v| v.len() >= MIN_RUNS) && !r.is_nan())
        .then(|| interval(&sets, |s| rel(ratio(&s[0], &s[1]), ratio(&s[2], &s[3]))))
        .flatten();
    Change { a: ra, b: rb, rel: r, ci, verdict: judge(r, ci, noise, better) }
}

/// A change measured once on each side (no interval): reported, not judged.
pub fn single(a: f64, b: f64) -> Change {
    Change { a, b, rel: rel(a, b), ci: None, verdict: Verdict::NotJudged }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_clear_slowdown_is_worse_with_an_interval_above_zero() {
        let a = [100.0, 101.0, 99.0, 100.5, 99.5];
        let b = [120.0, 121.0, 119.0, 120.5, 119.5];
        let c = median_change(&a, &b, 0.02, Better::Lower);
        assert!((c.rel - 0.2).abs() < 1e-9, "{c:?}");
        let (lo, hi) = c.ci.unwrap();
        assert!(lo > 0.15 && hi < 0.25 && lo <= c.rel && c.rel <= hi, "{c:?}");
        assert_eq!(c.verdict, Verdict::Worse);
        // The same runs the other way round are better.
        assert_eq!(median_change(&b, &a, 0.02, Better::Lower).verdict, Verdict::Better);
        // A speedup that grew is better.
        assert_eq!(median_change(&a, &b, 0.02, Better::Higher).verdict, Verdict::Better);
    }

    #[test]
    fn overlapping_runs_are_no_change() {
        let a = [100.0, 110.0, 95.0, 105.0, 90.0];
        let b = [102.0, 93.0, 108.0, 99.0, 111.0];
        let c = median_change(&a, &b, 0.0, Better::Lower);
        let (lo, hi) = c.ci.unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{c:?}");
        assert_eq!(c.verdict, Verdict::NoChange);
    }

    #[test]
    fn a_change_inside_the_noise_is_no_change() {
        let a = [100.0, 100.1, 99.9, 100.0, 100.05];
        let b = [101.0, 101.1, 100.9, 101.0, 101.05];
        let c = median_change(&a, &b, 0.0, Better::Lower);
        assert_eq!(c.verdict, Verdict::Worse, "1% with no noise allowed");
        let c = median_change(&a, &b, 0.02, Better::Lower);
        assert_eq!(c.verdict, Verdict::NoChange, "1% under a 2% threshold");
    }

    #[test]
    fn too_few_runs_are_not_judged() {
        let c = median_change(&[1.0, 2.0], &[5.0, 6.0, 7.0], 0.0, Better::Lower);
        assert_eq!((c.ci, c.verdict), (None, Verdict::NotJudged));
        let c = single(10.0, 15.0);
        assert!((c.rel - 0.5).abs() < 1e-12);
        assert_eq!(c.verdict, Verdict::NotJudged);
        assert!(single(0.0, 1.0).rel.is_nan());
    }

    #[test]
    fn speedups_compare_as_ratios_of_medians() {
        // A: 1 worker 100, 2 workers 50 (2x); B: 2 workers 80 (1.25x).
        let one = [100.0, 100.5, 99.5, 100.2];
        let (a2, b2) = ([50.0, 50.2, 49.8, 50.1], [80.0, 80.4, 79.6, 80.2]);
        let c = ratio_change((&one, &a2), (&one, &b2), 0.02, Better::Higher);
        assert!((c.a - 2.0).abs() < 0.01 && (c.b - 1.25).abs() < 0.01, "{c:?}");
        assert!((c.rel + 0.375).abs() < 0.01, "{c:?}");
        assert_eq!(c.verdict, Verdict::Worse);
        let (lo, hi) = c.ci.unwrap();
        assert!(lo < c.rel && c.rel < hi && hi < 0.0, "{c:?}");
    }

    #[test]
    fn the_interval_is_reproducible() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            median_change(&a, &b, 0.0, Better::Lower),
            median_change(&a, &b, 0.0, Better::Lower)
        );
    }

    /// Two sets of runs drawn from one distribution: at a 95% level and
    /// under a noise threshold the verdict is "no significant change" in
    /// nearly every trial (this is what `make compare` of two runs of one
    /// commit relies on).
    #[test]
    fn same_distribution_rarely_reads_as_a_change() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut draw =
            || -> Vec<f64> { (0..5).map(|_| 1000.0 * (1.0 + 0.03 * (rng.f64() - 0.5))).collect() };
        let trials = 60;
        let called = (0..trials)
            .filter(|_| {
                let (a, b) = (draw(), draw());
                median_change(&a, &b, 0.02, Better::Lower).verdict != Verdict::NoChange
            })
            .count();
        assert!(called <= 1, "{called} of {trials} trials called a change");
    }
}
