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
use crate::spec::{Block, Distribution, RandomBlock, RunSettings, Settings, SweepSpec, MAX_TRIALS};

/// Keys of the top level of a document that are not training axes.
const DOCUMENT_KEYS: &[&str] = &[
    "name",
    "description",
    "dataset",
    "seeds",
    "include_base",
    "keep_weights",
    "max_attempts",
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
const BLOCK_KEYS: &[&str] = &["grid", "list", "random"];

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
            _ => Block::Random(map.next_value_seed(RandomSeed)?),
        };
        if let Some(other) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "`{other}` next to `{key}`: a search block has exactly one key \
                 (grid, list or random); start another block with '-'"
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
                "trials" => trials = Some(map.next_value_seed(TrialsSeed)?),
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

/// The number of random trials, at least 1.
struct TrialsSeed;

impl<'de> DeserializeSeed<'de> for TrialsSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_u64(self)
    }
}

impl<'de> Visitor<'de> for TrialsSeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of trials >= 1")
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
