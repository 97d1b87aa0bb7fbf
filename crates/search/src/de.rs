//! Reading the YAML document into [`SweepSpec`] parts.
//!
//! Hand-written visitors instead of derived structs: which type a value has depends on
//! its key (the axis), and checking values inside the visitors lets serde_yaml attach the
//! exact line and column, while `serde_path_to_error` records the key path.

use std::fmt;

use fcnsweep_data::DatasetName;
use serde::de::{
    self, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::Deserialize;

use std::sync::OnceLock;

use crate::axes::{axis_names, training_axis_names, Axis, AxisKind, AxisValue};
use crate::kept::KeepWeights;
use crate::spec::{
    Block, Confirm, Distribution, Metric, Objective, RandomBlock, RunSettings, Settings, SweepSpec,
    TpeBlock, MAX_TRIALS,
};
use fcnsweep_tune::prune::{HalvingOptions, HyperbandOptions, MedianOptions, Pruner};
use fcnsweep_tune::tpe::TpeOptions;
use fcnsweep_tune::Goal;

/// Keys of the top level of a document that are not training axes.
const DOCUMENT_KEYS: &[&str] = &[
    "name",
    "description",
    "dataset",
    "seeds",
    "include_base",
    "keep_weights",
    "max_attempts",
    "metric",
    "prune",
    "confirm",
    "base",
    "search",
];

/// Keys of the top level of a document: [`DOCUMENT_KEYS`] and the training axes.
fn top_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        DOCUMENT_KEYS
            .iter()
            .chain(training_axis_names())
            .copied()
            .collect()
    })
}

/// Keys of one `search` block (exactly one of them).
const BLOCK_KEYS: &[&str] = &["grid", "list", "random", "tpe"];

/// Keys of a `tpe` block: a `random` block's, and Optuna's `TPESampler` options.
const TPE_KEYS: &[&str] = &[
    "trials",
    "seed",
    "params",
    "n_startup_trials",
    "n_ei_candidates",
    "prior_weight",
    "consider_magic_clip",
    "consider_endpoints",
    "constant_liar",
    "cost_aware",
    "epoch_budget",
];

/// Keys of `metric`.
const METRIC_KEYS: &[&str] = &["name", "goal"];

/// Keys of `confirm`.
const CONFIRM_KEYS: &[&str] = &["top", "seeds", "validation"];

/// Keys of `prune`: `method` and the options of every method (each method takes some).
const PRUNE_KEYS: &[&str] = &[
    "method",
    "startup_trials",
    "warmup_epochs",
    "interval_epochs",
    "min_trials",
    "min_epochs",
    "max_epochs",
    "reduction_factor",
    "min_early_stopping_rate",
    "bootstrap_count",
    "margin",
];

/// The pruning methods and the `prune` keys each takes besides `method`.
pub(crate) const PRUNE_METHODS: &[(&str, &[&str])] = &[
    (
        "median",
        &[
            "startup_trials",
            "warmup_epochs",
            "interval_epochs",
            "min_trials",
            "margin",
        ],
    ),
    (
        "asha",
        &[
            "min_epochs",
            "reduction_factor",
            "min_early_stopping_rate",
            "bootstrap_count",
            "margin",
        ],
    ),
    (
        "hyperband",
        &[
            "min_epochs",
            "max_epochs",
            "reduction_factor",
            "bootstrap_count",
            "margin",
        ],
    ),
];

/// Keys of a `random` block.
const RANDOM_KEYS: &[&str] = &["trials", "seed", "params"];

/// Keys of a `layers` distribution.
const LAYERS_KEYS: &[&str] = &["depth", "width"];

/// The document as read, before the checks that need all of it.
pub(crate) struct Document {
    name: String,
    description: Option<String>,
    dataset: DatasetName,
    seeds: Vec<u64>,
    include_base: bool,
    run: RunSettings,
    training: Settings,
    base: Settings,
    blocks: Vec<Block>,
    objective: Objective,
    prune: Option<Pruner>,
    confirm: Option<Confirm>,
}

impl Document {
    /// The spec, named by `origin`.
    pub(crate) fn into_spec(self, origin: &str) -> SweepSpec {
        SweepSpec {
            origin: origin.to_string(),
            name: self.name,
            description: self.description,
            dataset: self.dataset,
            seeds: self.seeds,
            include_base: self.include_base,
            run: self.run,
            training: self.training,
            base: self.base,
            blocks: self.blocks,
            objective: self.objective,
            prune: self.prune,
            confirm: self.confirm,
        }
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a search-space mapping with keys like name, dataset, seeds, base, search")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut seen = Vec::new();
        let mut name = None;
        let mut description = None;
        let mut dataset = None;
        let mut seeds = None;
        let mut include_base = None;
        let mut run = RunSettings::default();
        let mut training = Vec::new();
        let mut base = None;
        let mut blocks = None;
        let mut objective = None;
        let mut prune = None;
        let mut confirm = None;
        while let Some(key) = map.next_key_seed(KeySeed::new(top_keys(), &seen))? {
            seen.push(key);
            match key {
                "name" => name = Some(map.next_value_seed(NameSeed)?),
                "description" => description = map.next_value::<Option<String>>()?,
                "dataset" => dataset = Some(map.next_value_seed(DatasetSeed)?),
                "seeds" => seeds = Some(map.next_value_seed(SeedsSeed)?),
                "include_base" => include_base = Some(map.next_value::<bool>()?),
                "keep_weights" => {
                    let v: String = map.next_value()?;
                    run.keep_weights = Some(KeepWeights::parse(&v).map_err(|_| {
                        A::Error::custom(format!(
                            "unknown keep_weights '{v}': expected none, best or all"
                        ))
                    })?);
                }
                "max_attempts" => {
                    let v: u32 = map.next_value()?;
                    if v == 0 {
                        return Err(A::Error::custom("max_attempts must be at least 1"));
                    }
                    run.max_attempts = Some(v);
                }
                "metric" => objective = Some(map.next_value_seed(ObjectiveSeed)?),
                "prune" => prune = Some(map.next_value_seed(PruneSeed)?),
                "confirm" => confirm = Some(map.next_value_seed(ConfirmSeed)?),
                "base" => base = Some(map.next_value_seed(SettingsSeed)?),
                "search" => blocks = Some(map.next_value_seed(BlocksSeed)?),
                _ => {
                    let axis = key_axis(key);
                    training.push((axis, map.next_value_seed(ValueSeed(axis))?));
                }
            }
        }
        Ok(Document {
            name: name.ok_or_else(|| A::Error::missing_field("name"))?,
            description,
            dataset: dataset.ok_or_else(|| A::Error::missing_field("dataset"))?,
            seeds: seeds.unwrap_or_else(|| vec![0]),
            include_base: include_base.unwrap_or(true),
            run,
            training,
            base: base.unwrap_or_default(),
            blocks: blocks.unwrap_or_default(),
            objective: objective.unwrap_or_default(),
            prune,
            confirm,
        })
    }
}

/// The axis of a key already checked against the axis names.
fn key_axis(key: &str) -> Axis {
    Axis::named(key)
}

/// A mapping key that must be one of `valid` and not one of `seen`.
struct KeySeed<'a> {
    valid: &'static [&'static str],
    seen: &'a [&'static str],
}

impl<'a> KeySeed<'a> {
    fn new(valid: &'static [&'static str], seen: &'a [&'static str]) -> Self {
        Self { valid, seen }
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a key, one of {}", self.valid.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let Some(key) = self.valid.iter().find(|k| **k == v) else {
            if self.valid == top_keys() && Axis::parse(v).is_some() {
                return Err(E::custom(format!(
                    "`{v}` is not a training setting, so it cannot be set at the top level: \
                     set it under `base` (top-level settings: {})",
                    training_axis_names().join(", ")
                )));
            }
            return Err(E::unknown_field(v, self.valid));
        };
        if self.seen.contains(key) {
            return Err(E::custom(format!("duplicate key `{v}`")));
        }
        Ok(key)
    }
}

/// The study name: `[A-Za-z0-9_.-]+`.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a study name of letters, digits, '_', '.' and '-'")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        let ok = !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok {
            Ok(v.to_string())
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }
}

/// The dataset name.
struct DatasetSeed;

impl<'de> DeserializeSeed<'de> for DatasetSeed {
    type Value = DatasetName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DatasetName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for DatasetSeed {
    type Value = DatasetName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a dataset, one of {}", DatasetName::NAMES.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DatasetName, E> {
        DatasetName::parse(v).map_err(|_| {
            E::custom(format!(
                "unknown dataset `{v}`, expected one of {}",
                DatasetName::NAMES.join(", ")
            ))
        })
    }
}

/// `seeds`: a count n (seeds 0..n-1) or a list of distinct seeds.
struct SeedsSeed;

impl<'de> DeserializeSeed<'de> for SeedsSeed {
    type Value = Vec<u64>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u64>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SeedsSeed {
    type Value = Vec<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a seed count >= 1 or a list of distinct seeds like [0, 1, 7]")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Vec<u64>, E> {
        if n == 0 {
            return Err(E::invalid_value(Unexpected::Unsigned(0), &self));
        }
        if n > MAX_TRIALS {
            return Err(E::custom(format!(
                "{n} seeds, over the limit of {MAX_TRIALS} trials"
            )));
        }
        Ok((0..n).collect())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Vec<u64>, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
        let mut seeds: Vec<u64> = Vec::new();
        while let Some(seed) = seq.next_element_seed(SeedElement { seen: &seeds })? {
            if seeds.len() as u64 >= MAX_TRIALS {
                return Err(A::Error::custom(format!(
                    "more than {MAX_TRIALS} seeds, over the limit of {MAX_TRIALS} trials"
                )));
            }
            seeds.push(seed);
        }
        if seeds.is_empty() {
            return Err(A::Error::custom(
                "empty list: expected at least one seed".to_string(),
            ));
        }
        Ok(seeds)
    }
}

/// One seed of a `seeds` list, not among the earlier ones.
struct SeedElement<'a> {
    seen: &'a [u64],
}

impl<'de> DeserializeSeed<'de> for SeedElement<'_> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_u64(self)
    }
}

impl<'de> Visitor<'de> for SeedElement<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a seed (an integer >= 0)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if self.seen.contains(&v) {
            return Err(E::custom(format!(
                "duplicate seed {v}: each seed may appear once"
            )));
        }
        Ok(v)
    }
}

/// A mapping of axis keys to single values (`base`, one `list` entry).
struct SettingsSeed;

impl<'de> DeserializeSeed<'de> for SettingsSeed {
    type Value = Settings;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Settings, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SettingsSeed {
    type Value = Settings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of settings like {lr: 0.1, optimizer: sgd}")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Settings, A::Error> {
        visit_axis_map(map, |axis, map| map.next_value_seed(ValueSeed(axis)))
    }
}

/// Reads a mapping keyed by axis names; `value` reads the value of each key.
fn visit_axis_map<'de, A, T>(
    mut map: A,
    mut value: impl FnMut(Axis, &mut A) -> Result<T, A::Error>,
) -> Result<Vec<(Axis, T)>, A::Error>
where
    A: MapAccess<'de>,
{
    let mut seen = Vec::new();
    let mut entries = Vec::new();
    while let Some(key) = map.next_key_seed(KeySeed::new(axis_names(), &seen))? {
        seen.push(key);
        let axis = key_axis(key);
        entries.push((axis, value(axis, &mut map)?));
    }
    Ok(entries)
}

/// One value of an axis, type-checked and range-checked.
#[derive(Clone, Copy)]
struct ValueSeed(Axis);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = AxisValue;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<AxisValue, D::Error> {
        let axis = self.0;
        match axis.kind() {
            AxisKind::Layers => deserializer.deserialize_seq(LayersVisitor(axis)),
            AxisKind::Optimizer | AxisKind::Init | AxisKind::Norm | AxisKind::Schedule => {
                deserializer.deserialize_str(NameVisitor(axis))
            }
            AxisKind::Float => deserializer.deserialize_f64(FloatVisitor(axis)),
            AxisKind::Bool => bool::deserialize(deserializer).map(AxisValue::Bool),
            AxisKind::Count => deserializer.deserialize_u64(CountVisitor(axis)),
            AxisKind::Seed => u64::deserialize(deserializer).map(AxisValue::Seed),
            AxisKind::Subset => deserializer.deserialize_option(SubsetVisitor(axis)),
        }
    }
}

/// Checks `value` for `axis`, as a deserializer error.
fn checked<E: de::Error>(axis: Axis, value: AxisValue) -> Result<AxisValue, E> {
    axis.check_value(&value).map_err(E::custom)?;
    Ok(value)
}

struct LayersVisitor(Axis);

impl<'de> Visitor<'de> for LayersVisitor {
    type Value = AxisValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of layer widths like [500, 50] for {}", self.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AxisValue, A::Error> {
        let mut widths = Vec::new();
        while let Some(w) = seq.next_element::<usize>()? {
            widths.push(w);
        }
        checked(self.0, AxisValue::Layers(widths))
    }
}

struct NameVisitor(Axis);

impl<'de> Visitor<'de> for NameVisitor {
    type Value = AxisValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.0.kind().names();
        write!(f, "a name for {}, one of {}", self.0, names.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AxisValue, E> {
        self.0.kind().parse_name(v).map_err(E::custom)
    }
}

struct FloatVisitor(Axis);

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = AxisValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a number for {}", self.0)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AxisValue, E> {
        checked(self.0, AxisValue::Float(v))
    }
}

struct CountVisitor(Axis);

impl<'de> Visitor<'de> for CountVisitor {
    type Value = AxisValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a non-negative integer for {}", self.0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AxisValue, E> {
        let n = usize::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))?;
        let value = match self.0.kind() {
            AxisKind::Subset => AxisValue::Subset(Some(n)),
            _ => AxisValue::Count(n),
        };
        checked(self.0, value)
    }
}

struct SubsetVisitor(Axis);

impl<'de> Visitor<'de> for SubsetVisitor {
    type Value = AxisValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "null or a positive integer for {}", self.0)
    }

    fn visit_none<E: de::Error>(self) -> Result<AxisValue, E> {
        Ok(AxisValue::Subset(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<AxisValue, E> {
        Ok(AxisValue::Subset(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<AxisValue, D::Error> {
        deserializer.deserialize_u64(CountVisitor(self.0))
    }
}

/// A non-empty list of values of one axis (a grid axis, a `choice`).
struct ValuesSeed(Axis);

impl<'de> DeserializeSeed<'de> for ValuesSeed {
    type Value = Vec<AxisValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed {
    type Value = Vec<AxisValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of values for {}", self.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element_seed(ValueSeed(self.0))? {
            values.push(value);
        }
        if values.is_empty() {
            return Err(A::Error::custom(format!(
                "empty list: expected at least one value for {}",
                self.0
            )));
        }
        Ok(values)
    }
}

/// The `search` list of blocks.
struct BlocksSeed;

impl<'de> DeserializeSeed<'de> for BlocksSeed {
    type Value = Vec<Block>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Block>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BlocksSeed {
    type Value = Vec<Block>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of search blocks (grid, list or random)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Block>, A::Error> {
        let mut blocks = Vec::new();
        while let Some(block) = seq.next_element_seed(BlockSeed)? {
            blocks.push(block);
        }
        Ok(blocks)
    }
}

/// One search block: a mapping with exactly one of `grid`, `list`, `random`.
struct BlockSeed;

impl<'de> DeserializeSeed<'de> for BlockSeed {
    type Value = Block;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Block, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BlockSeed {
    type Value = Block;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a search block: a mapping with one key, grid, list or random")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Block, A::Error> {
        let Some(key) = map.next_key_seed(KeySeed::new(BLOCK_KEYS, &[]))? else {
            return Err(A::Error::custom(
                "empty search block: expected one key, grid, list or random",
            ));
        };
        let block = match key {
            "grid" => Block::Grid(map.next_value_seed(GridSeed)?),
            "list" => Block::List(map.next_value_seed(ListSeed)?),
            "tpe" => Block::Tpe(map.next_value_seed(TpeSeed)?),
            _ => Block::Random(map.next_value_seed(RandomSeed)?),
        };
        if let Some(other) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "`{other}` next to `{key}`: a search block has exactly one key \
                 (grid, list, random or tpe); start another block with '-'"
            )));
        }
        Ok(block)
    }
}

/// A grid: axis keys to non-empty value lists.
struct GridSeed;

impl<'de> DeserializeSeed<'de> for GridSeed {
    type Value = Vec<(Axis, Vec<AxisValue>)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GridSeed {
    type Value = Vec<(Axis, Vec<AxisValue>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a grid: a mapping of axes to value lists like {lr: [0.1, 0.01]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let axes = visit_axis_map(map, |axis, map| map.next_value_seed(ValuesSeed(axis)))?;
        if axes.is_empty() {
            return Err(A::Error::custom(
                "empty grid: expected at least one axis like {lr: [0.1, 0.01]}",
            ));
        }
        Ok(axes)
    }
}

/// A list block: a non-empty list of settings mappings.
struct ListSeed;

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<Settings>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<Settings>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of configurations like [{dropout: 0.5}, {norm: batch}]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element_seed(SettingsSeed)? {
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(A::Error::custom(
                "empty list: expected at least one configuration".to_string(),
            ));
        }
        Ok(entries)
    }
}

/// A random block: `trials`, optional `seed`, `params`.
struct RandomSeed;

impl<'de> DeserializeSeed<'de> for RandomSeed {
    type Value = RandomBlock;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RandomBlock, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RandomSeed {
    type Value = RandomBlock;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a random search: a mapping with trials, seed and params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RandomBlock, A::Error> {
        let mut seen = Vec::new();
        let (mut trials, mut seed, mut params) = (None, None, None);
        while let Some(key) = map.next_key_seed(KeySeed::new(RANDOM_KEYS, &seen))? {
            seen.push(key);
            match key {
                "trials" => trials = Some(map.next_value_seed(TRIALS)?),
                "seed" => seed = Some(map.next_value::<u64>()?),
                _ => params = Some(map.next_value_seed(ParamsSeed)?),
            }
        }
        Ok(RandomBlock {
            trials: trials.ok_or_else(|| A::Error::missing_field("trials"))?,
            seed: seed.unwrap_or(0),
            params: params.ok_or_else(|| A::Error::missing_field("params"))?,
        })
    }
}

/// A count of `what` (trials, epochs), at least 1.
struct CountSeed {
    what: &'static str,
}

/// The number of a block's trials, at least 1.
const TRIALS: CountSeed = CountSeed { what: "trials" };

impl<'de> DeserializeSeed<'de> for CountSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_u64(self)
    }
}

impl<'de> Visitor<'de> for CountSeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a number of {} >= 1", self.what)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        match usize::try_from(v) {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }
}

/// The `params` of a random block: axis keys to distributions.
struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = Vec<(Axis, Distribution)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ParamsSeed {
    type Value = Vec<(Axis, Distribution)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of axes to distributions like {lr: {log_uniform: [1.0e-4, 0.1]}}")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let params = visit_axis_map(map, |axis, map| map.next_value_seed(DistSeed(axis)))?;
        if params.is_empty() {
            return Err(A::Error::custom(
                "empty params: expected at least one axis like {lr: {log_uniform: [1.0e-4, 0.1]}}",
            ));
        }
        Ok(params)
    }
}

/// The distribution of one axis: a mapping with exactly one distribution key.
struct DistSeed(Axis);

impl<'de> DeserializeSeed<'de> for DistSeed {
    type Value = Distribution;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Distribution, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DistSeed {
    type Value = Distribution;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a distribution for {} like {{{}: ...}}, one of {}",
            self.0,
            Distribution::names_for(self.0.kind())[0],
            Distribution::names_for(self.0.kind()).join(", ")
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
        let axis = self.0;
        let Some(name) = map.next_key_seed(DistNameSeed(axis))? else {
            return Err(A::Error::custom(format!(
                "empty distribution for {axis}: expected one of {}",
                Distribution::names_for(axis.kind()).join(", ")
            )));
        };
        let dist = map.next_value_seed(DistArgsSeed { axis, name })?;
        if let Some(other) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "`{other}` next to `{name}`: a distribution has exactly one key"
            )));
        }
        Ok(dist)
    }
}

/// A distribution name that exists and applies to the axis.
struct DistNameSeed(Axis);

impl<'de> DeserializeSeed<'de> for DistNameSeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for DistNameSeed {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a distribution name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let allowed = Distribution::names_for(self.0.kind());
        match Distribution::NAMES.iter().find(|n| **n == v) {
            None => Err(E::custom(format!(
                "unknown distribution `{v}`, expected one of {} (for {}: {})",
                Distribution::NAMES.join(", "),
                self.0,
                allowed.join(", ")
            ))),
            Some(name) if !allowed.contains(name) => Err(E::custom(format!(
                "distribution `{v}` does not apply to {}, expected one of {}",
                self.0,
                allowed.join(", ")
            ))),
            Some(name) => Ok(name),
        }
    }
}

/// The arguments of distribution `name` for `axis`, checked.
struct DistArgsSeed {
    axis: Axis,
    name: &'static str,
}

impl<'de> DeserializeSeed<'de> for DistArgsSeed {
    type Value = Distribution;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Distribution, D::Error> {
        let axis = self.axis;
        let dist = match self.name {
            "uniform" | "log_uniform" => {
                let [lo, hi] = <[f64; 2]>::deserialize(deserializer)?;
                let log = self.name == "log_uniform";
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    return Err(D::Error::custom(format!(
                        "inverted range [{lo}, {hi}]: expected [low, high] with low <= high"
                    )));
                }
                if log && lo <= 0.0 {
                    return Err(D::Error::custom(format!(
                        "range [{lo}, {hi}] starts at or below 0: log_uniform needs low > 0"
                    )));
                }
                for bound in [lo, hi] {
                    axis.check_value(&AxisValue::Float(bound)).map_err(|e| {
                        D::Error::custom(format!("range [{lo}, {hi}] for {axis}: {e}"))
                    })?;
                }
                if log {
                    Distribution::LogUniform { lo, hi }
                } else {
                    Distribution::Uniform { lo, hi }
                }
            }
            "int_uniform" => {
                let [lo, hi] = <[u64; 2]>::deserialize(deserializer)?;
                if lo > hi {
                    return Err(D::Error::custom(format!(
                        "inverted range [{lo}, {hi}]: expected [low, high] with low <= high"
                    )));
                }
                for bound in [lo, hi] {
                    axis.int_value(bound)
                        .and_then(|v| axis.check_value(&v))
                        .map_err(|e| {
                            D::Error::custom(format!("range [{lo}, {hi}] for {axis}: {e}"))
                        })?;
                }
                Distribution::IntUniform { lo, hi }
            }
            "choice" => Distribution::Choice(ValuesSeed(axis).deserialize(deserializer)?),
            _ => deserializer.deserialize_map(LayersDistVisitor)?,
        };
        Ok(dist)
    }
}

/// `layers: {depth: [lo, hi], width: [lo, hi]}`.
struct LayersDistVisitor;

impl<'de> Visitor<'de> for LayersDistVisitor {
    type Value = Distribution;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{depth: [min, max], width: [min, max]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
        let mut seen = Vec::new();
        let (mut depth, mut width) = (None, None);
        while let Some(key) = map.next_key_seed(KeySeed::new(LAYERS_KEYS, &seen))? {
            seen.push(key);
            let range = map.next_value_seed(PositiveRangeSeed)?;
            if key == "depth" {
                depth = Some(range);
            } else {
                width = Some(range);
            }
        }
        Ok(Distribution::Layers {
            depth: depth.ok_or_else(|| A::Error::missing_field("depth"))?,
            width: width.ok_or_else(|| A::Error::missing_field("width"))?,
        })
    }
}

/// An inclusive integer range `[lo, hi]` with `1 <= lo <= hi`.
struct PositiveRangeSeed;

impl<'de> DeserializeSeed<'de> for PositiveRangeSeed {
    type Value = (usize, usize);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let [lo, hi] = <[usize; 2]>::deserialize(deserializer)?;
        if lo == 0 || lo > hi {
            return Err(D::Error::custom(format!(
                "invalid range [{lo}, {hi}]: expected [min, max] with 1 <= min <= max"
            )));
        }
        Ok((lo, hi))
    }
}

/// A `tpe` block: a random block's `trials`, `seed` and `params`, and the sampler options.
struct TpeSeed;

impl<'de> DeserializeSeed<'de> for TpeSeed {
    type Value = TpeBlock;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TpeBlock, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TpeSeed {
    type Value = TpeBlock;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TPE search: a mapping with trials, seed, params and sampler options")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TpeBlock, A::Error> {
        let mut seen = Vec::new();
        let (mut trials, mut seed, mut params) = (None, None, None);
        let mut options = TpeOptions::default();
        let mut cost_aware = false;
        let mut epoch_budget = None;
        while let Some(key) = map.next_key_seed(KeySeed::new(TPE_KEYS, &seen))? {
            seen.push(key);
            match key {
                "trials" => trials = Some(map.next_value_seed(TRIALS)?),
                "seed" => seed = Some(map.next_value::<u64>()?),
                "params" => params = Some(map.next_value_seed(ParamsSeed)?),
                "n_startup_trials" => options.n_startup_trials = map.next_value()?,
                "n_ei_candidates" => {
                    options.n_ei_candidates = map.next_value()?;
                    if options.n_ei_candidates == 0 {
                        return Err(A::Error::custom("n_ei_candidates must be at least 1"));
                    }
                }
                "prior_weight" => {
                    options.prior_weight = map.next_value()?;
                    if !(options.prior_weight.is_finite() && options.prior_weight > 0.0) {
                        return Err(A::Error::custom(format!(
                            "prior_weight {} must be a number above 0",
                            options.prior_weight
                        )));
                    }
                }
                "consider_magic_clip" => options.consider_magic_clip = map.next_value()?,
                "consider_endpoints" => options.consider_endpoints = map.next_value()?,
                "cost_aware" => cost_aware = map.next_value()?,
                "epoch_budget" => {
                    epoch_budget = Some(map.next_value_seed(CountSeed { what: "epochs" })?)
                }
                _ => options.constant_liar = map.next_value()?,
            }
        }
        Ok(TpeBlock {
            trials: trials.ok_or_else(|| A::Error::missing_field("trials"))?,
            seed: seed.unwrap_or(0),
            params: params.ok_or_else(|| A::Error::missing_field("params"))?,
            options,
            cost_aware,
            epoch_budget,
        })
    }
}

/// `metric: {name: val_acc | val_loss, goal: maximize | minimize}`.
struct ObjectiveSeed;

impl<'de> DeserializeSeed<'de> for ObjectiveSeed {
    type Value = Objective;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Objective, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectiveSeed {
    type Value = Objective;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric like {name: val_acc, goal: maximize}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Objective, A::Error> {
        let mut seen = Vec::new();
        let (mut metric, mut goal) = (None, None);
        while let Some(key) = map.next_key_seed(KeySeed::new(METRIC_KEYS, &seen))? {
            seen.push(key);
            if key == "name" {
                let v = map.next_value_seed(OneOf {
                    names: Metric::NAMES,
                    what: "metric",
                    note: " (validation metrics: the test set never chooses)",
                })?;
                metric = Metric::parse(v);
            } else {
                let v = map.next_value_seed(OneOf {
                    names: &["maximize", "minimize"],
                    what: "goal",
                    note: "",
                })?;
                goal = Some(if v == "maximize" {
                    Goal::Maximize
                } else {
                    Goal::Minimize
                });
            }
        }
        let metric = metric.unwrap_or(Metric::ValAcc);
        Ok(Objective {
            metric,
            goal: goal.unwrap_or_else(|| metric.natural_goal()),
        })
    }
}

/// A string that must be one of `names`.
struct OneOf {
    names: &'static [&'static str],
    what: &'static str,
    note: &'static str,
}

impl<'de> DeserializeSeed<'de> for OneOf {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for OneOf {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {}, one of {}", self.what, self.names.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.names
            .iter()
            .find(|n| **n == v)
            .copied()
            .ok_or_else(|| {
                let expected = match self.names {
                    [a, b] => format!("{a} or {b}"),
                    names => format!("one of {}", names.join(", ")),
                };
                E::custom(format!(
                    "unknown {} `{v}`, expected {expected}{}",
                    self.what, self.note
                ))
            })
    }
}

/// A whole number of at least `min` for `key`.
struct AtLeast {
    key: &'static str,
    min: u64,
}

impl<'de> DeserializeSeed<'de> for AtLeast {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_u64(self)
    }
}

impl<'de> Visitor<'de> for AtLeast {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a whole number of at least {} for {}",
            self.min, self.key
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v >= self.min {
            return Ok(v);
        }
        Err(E::custom(match self.key {
            "reduction_factor" => format!(
                "reduction_factor {v} must be at least 2: each rung keeps one trial in reduction_factor"
            ),
            key => format!("{key} {v} must be at least {}", self.min),
        }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

/// `confirm: {top: K, seeds: S, validation: N}`.
struct ConfirmSeed;

impl<'de> DeserializeSeed<'de> for ConfirmSeed {
    type Value = Confirm;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Confirm, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConfirmSeed {
    type Value = Confirm;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a confirmation stage like {top: 3, seeds: 5}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Confirm, A::Error> {
        let mut seen = Vec::new();
        let mut confirm = Confirm {
            top: 3,
            seeds: 5,
            validation: None,
        };
        while let Some(key) = map.next_key_seed(KeySeed::new(CONFIRM_KEYS, &seen))? {
            seen.push(key);
            let min = u64::from(key != "validation");
            let v = map.next_value_seed(AtLeast { key, min })? as usize;
            match key {
                "top" => confirm.top = v,
                "seeds" => confirm.seeds = v,
                _ => confirm.validation = Some(v),
            }
        }
        Ok(confirm)
    }
}

/// A pruner's `margin`: a finite number of at least 0, in the metric's units.
struct MarginSeed;

impl<'de> DeserializeSeed<'de> for MarginSeed {
    type Value = f64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<f64, D::Error> {
        deserializer.deserialize_f64(self)
    }
}

impl<'de> Visitor<'de> for MarginSeed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of at least 0 for margin, in the metric's units")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        if v.is_finite() && v >= 0.0 {
            return Ok(v);
        }
        Err(E::custom(format!(
            "margin {v} must be a number of at least 0, in the metric's units"
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
}

/// `prune: {method: median | asha | hyperband, ...}` with Optuna's defaults for what is
/// not given.
struct PruneSeed;

impl<'de> DeserializeSeed<'de> for PruneSeed {
    type Value = Pruner;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Pruner, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PruneSeed {
    type Value = Pruner;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pruner like {method: asha, min_epochs: 1, reduction_factor: 4}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pruner, A::Error> {
        let mut seen = Vec::new();
        let mut method = None;
        let mut values: Vec<(&'static str, u64)> = Vec::new();
        let mut margin = 0.0;
        while let Some(key) = map.next_key_seed(KeySeed::new(PRUNE_KEYS, &seen))? {
            seen.push(key);
            if key == "method" {
                let v = map.next_value_seed(OneOf {
                    names: &["median", "asha", "hyperband"],
                    what: "pruning method",
                    note: "",
                })?;
                let (name, keys) = PRUNE_METHODS
                    .iter()
                    .find(|(n, _)| *n == v)
                    .expect("the names are the methods'");
                if let Some((other, _)) = values.iter().find(|(k, _)| !keys.contains(k)) {
                    return Err(A::Error::custom(format!(
                        "`{other}` does not apply to method {name} (its keys: {})",
                        keys.join(", ")
                    )));
                }
                method = Some((*name, *keys));
            } else {
                if let Some((name, keys)) = method {
                    if !keys.contains(&key) {
                        return Err(A::Error::custom(format!(
                            "`{key}` does not apply to method {name} (its keys: {})",
                            keys.join(", ")
                        )));
                    }
                }
                if key == "margin" {
                    margin = map.next_value_seed(MarginSeed)?;
                    continue;
                }
                let min = match key {
                    "reduction_factor" => 2,
                    "min_epochs" | "max_epochs" | "interval_epochs" | "min_trials" => 1,
                    _ => 0,
                };
                values.push((key, map.next_value_seed(AtLeast { key, min })?));
            }
        }
        let Some((method, _)) = method else {
            return Err(A::Error::missing_field("method"));
        };
        let get = |key: &str, default: usize| {
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(default, |(_, v)| *v as usize)
        };
        let pruner = match method {
            "median" => {
                let d = MedianOptions::default();
                Pruner::Median(MedianOptions {
                    n_startup_trials: get("startup_trials", d.n_startup_trials),
                    n_warmup_steps: get("warmup_epochs", d.n_warmup_steps),
                    interval_steps: get("interval_epochs", d.interval_steps),
                    n_min_trials: get("min_trials", d.n_min_trials),
                    margin,
                })
            }
            "asha" => {
                let d = HalvingOptions::default();
                Pruner::SuccessiveHalving(HalvingOptions {
                    min_resource: get("min_epochs", d.min_resource),
                    reduction_factor: get("reduction_factor", d.reduction_factor),
                    min_early_stopping_rate: get(
                        "min_early_stopping_rate",
                        d.min_early_stopping_rate,
                    ),
                    bootstrap_count: get("bootstrap_count", d.bootstrap_count),
                    margin,
                })
            }
            _ => {
                let d = HyperbandOptions::default();
                Pruner::Hyperband(HyperbandOptions {
                    min_resource: get("min_epochs", d.min_resource),
                    // Settled from the sweep's largest `epochs` once it is all read.
                    max_resource: values
                        .iter()
                        .find(|(k, _)| *k == "max_epochs")
                        .map(|(_, v)| *v as usize),
                    reduction_factor: get("reduction_factor", d.reduction_factor),
                    bootstrap_count: get("bootstrap_count", d.bootstrap_count),
                    margin,
                })
            }
        };
        Ok(pruner)
    }
}
