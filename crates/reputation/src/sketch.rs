use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bits;

/// A DDSketch (Masson, Rim and Lee, VLDB 2019): a mergeable quantile sketch with a
/// relative-error guarantee.
///
/// A positive value `x` goes to bucket `k = ceil(ln x / ln γ)` with `γ = (1 + α) / (1 − α)`;
/// a quantile is answered with `2γᵏ / (γ + 1)`, which is within a factor `1 ± α` of every
/// value in bucket `k`. So any quantile answered is within relative error `α` of the exact
/// quantile, as long as the buckets below it have not been collapsed (the sketch keeps at
/// most `max_buckets` and folds the lowest together, which only touches the lowest
/// quantiles). Values below `1` (and zero) are counted apart and answered as `0`.
///
/// Weights are `f64`, so a sketch can hold exponentially decayed counts; merging adds the
/// weights bucket by bucket, so merging sketches of parts equals sketching the whole.
///
/// ```
/// use dataseal_reputation::DdSketch;
/// let mut s = DdSketch::new(0.01, 2048)?;
/// for v in 1..=1000 { s.add(f64::from(v)); }
/// let p99 = s.quantile(0.99).unwrap_or_default();
/// assert!((p99 - 991.0).abs() <= 0.01 * 991.0);
/// # Ok::<(), dataseal_reputation::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DdSketch {
    #[serde(with = "bits::f64")]
    alpha: f64,
    max_buckets: u32,
    offset: i32,
    #[serde(with = "bits::vec")]
    buckets: Vec<f64>,
    #[serde(with = "bits::f64")]
    below_one: f64,
    #[serde(with = "bits::f64")]
    total: f64,
    derived: Derived,
}

/// Constants derived from α, kept so an insert costs one logarithm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Derived {
    #[serde(with = "bits::f64")]
    inv_ln_gamma: f64,
    #[serde(with = "bits::f64")]
    ln_gamma: f64,
    #[serde(with = "bits::f64")]
    value_factor: f64,
}

impl Derived {
    fn of(alpha: f64) -> Self {
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        let ln_gamma = gamma.ln();
        Self {
            inv_ln_gamma: 1.0 / ln_gamma,
            ln_gamma,
            value_factor: 2.0 / (1.0 + gamma),
        }
    }
}

impl DdSketch {
    /// An empty sketch with relative accuracy `alpha` (0 < α < 1) keeping at most
    /// `max_buckets` buckets (at least 16).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] if `alpha` or `max_buckets` is out of range.
    pub fn new(alpha: f64, max_buckets: u32) -> Result<Self, Error> {
        if !(0.0..1.0).contains(&alpha) || alpha == 0.0 || max_buckets < 16 {
            return Err(Error::InvalidParams(format!(
                "sketch: alpha {alpha} must be in (0, 1) and max_buckets {max_buckets} at least 16"
            )));
        }
        Ok(Self {
            alpha,
            max_buckets,
            offset: 0,
            buckets: Vec::new(),
            below_one: 0.0,
            total: 0.0,
            derived: Derived::of(alpha),
        })
    }

    /// The relative accuracy α.
    #[must_use]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        self.add_weighted(value, 1.0);
    }

    /// Adds a value with a weight; non-finite values and non-positive weights are ignored.
    pub fn add_weighted(&mut self, value: f64, weight: f64) {
        if !value.is_finite() || weight.is_nan() || weight <= 0.0 {
            return;
        }
        self.total += weight;
        if value < 1.0 {
            self.below_one += weight;
            return;
        }
        let key = (value.ln() * self.derived.inv_ln_gamma).ceil();
        // ln of a finite f64 is below 710, so the key fits an i32 for any α ≥ 1e-6.
        let key = key as i32;
        self.add_key(key, weight);
    }

    fn add_key(&mut self, key: i32, weight: f64) {
        let max = self.max_buckets as usize;
        if self.buckets.is_empty() {
            self.offset = key;
            self.buckets.push(weight);
            return;
        }
        let len = self.buckets.len();
        let mut key = key;
        if key < self.offset {
            let highest = i64::from(self.offset) + len as i64 - 1;
            let lowest_kept = highest - max as i64 + 1;
            if i64::from(key) < lowest_kept {
                // Collapsed into the lowest bucket kept.
                key = i32::try_from(lowest_kept).unwrap_or(self.offset);
            }
            let grow = usize::try_from(i64::from(self.offset) - i64::from(key)).unwrap_or(0);
            if grow > 0 {
                self.buckets.splice(0..0, std::iter::repeat_n(0.0, grow));
                self.offset = key;
            }
        } else {
            let index = usize::try_from(i64::from(key) - i64::from(self.offset)).unwrap_or(0);
            if index >= len {
                let new_len = index + 1;
                if new_len > max {
                    let shift = new_len - max;
                    let folded: f64 = self.buckets.iter().take(shift + 1).sum();
                    self.buckets.drain(0..shift.min(self.buckets.len()));
                    if let Some(first) = self.buckets.first_mut() {
                        *first = folded;
                    }
                    self.offset = self
                        .offset
                        .saturating_add(i32::try_from(shift).unwrap_or(i32::MAX));
                }
                let need =
                    usize::try_from(i64::from(key) - i64::from(self.offset)).unwrap_or(0) + 1;
                if self.buckets.len() < need {
                    self.buckets.resize(need, 0.0);
                }
            }
        }
        let index = usize::try_from(i64::from(key) - i64::from(self.offset)).unwrap_or(0);
        if let Some(b) = self.buckets.get_mut(index) {
            *b += weight;
        }
    }

    /// Total weight added.
    #[must_use]
    pub fn count(&self) -> f64 {
        self.total
    }

    /// The `q`-quantile (0 ≤ q ≤ 1): the value of the first bucket whose cumulative
    /// weight exceeds `q` times the total. `None` for an empty sketch.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 || q.is_nan() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.total;
        let mut cumulative = self.below_one;
        if cumulative > rank {
            return Some(0.0);
        }
        let d = self.derived;
        let mut last = None;
        for (key, weight) in (self.offset..).zip(&self.buckets) {
            if *weight <= 0.0 {
                continue;
            }
            cumulative += weight;
            last = Some(key);
            if cumulative > rank {
                break;
            }
        }
        last.map(|k| (f64::from(k) * d.ln_gamma).exp() * d.value_factor)
            .or(Some(0.0))
    }

    /// Adds every weight of `other` into this sketch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] if the sketches have different α.
    pub fn merge(&mut self, other: &Self) -> Result<(), Error> {
        if self.alpha.to_bits() != other.alpha.to_bits() {
            return Err(Error::InvalidParams(
                "sketch: cannot merge sketches of different alpha".to_owned(),
            ));
        }
        for (key, weight) in (other.offset..).zip(&other.buckets) {
            if *weight > 0.0 {
                self.add_key(key, *weight);
                self.total += weight;
            }
        }
        self.below_one += other.below_one;
        self.total += other.below_one;
        Ok(())
    }

    /// Multiplies every weight by `factor` (used to renormalise decayed weights).
    pub(crate) fn scale(&mut self, factor: f64) {
        for b in &mut self.buckets {
            *b *= factor;
        }
        self.below_one *= factor;
        self.total *= factor;
    }
}
