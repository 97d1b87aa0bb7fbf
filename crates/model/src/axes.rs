//! The axes of a sweep: every hyper-parameter a search space can set, vary or sample.
//!
//! One axis is one key of the YAML format (`lr`, `hidden`, `epochs`, ...), one `train` flag,
//! one column of the results table and of the database. Each is declared once: the network
//! and training axes in [`NETWORK`] and [`TRAINING`] below, every optimizer hyper-parameter in
//! its optimizer's module ([`crate::optim`]). [`Axis::all`] is their union, in the order
//! of tables and columns: `hidden`, `optimizer`, `lr`, the optimizers' hyper-parameters in
//! registry order, the rest of the network, then the training settings.

use std::fmt;
use std::sync::OnceLock;

use crate::optim::{all_hypers, readers};
use crate::{
    Hyper, HyperValue, Init, LrSchedule, ModelConfig, ModelError, Norm, OptimizerConfig,
    OptimizerKind, RunConfig, TrainConfig,
};
use serde_json::Value;

/// The value type of an axis, which decides how YAML values and distributions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// A list of layer widths (`hidden`).
    Layers,
    /// An optimizer name.
    Optimizer,
    /// An initializer name.
    Init,
    /// A normalization name.
    Norm,
    /// A learning-rate schedule name.
    Schedule,
    /// A real number.
    Float,
    /// A boolean.
    Bool,
    /// A count that fits `usize` (epochs, batch size, validation size).
    Count,
    /// A 64-bit seed.
    Seed,
    /// An optional count (`train_subset`, `null` for all).
    Subset,
}

impl AxisKind {
    /// The names a name-valued axis accepts (empty for the others).
    pub fn names(self) -> Vec<&'static str> {
        match self {
            Self::Optimizer => OptimizerKind::names(),
            Self::Init => Init::NAMES.to_vec(),
            Self::Norm => Norm::NAMES.to_vec(),
            Self::Schedule => LrSchedule::NAMES.to_vec(),
            _ => Vec::new(),
        }
    }

    /// Parses a name of a name-valued axis.
    pub fn parse_name(self, s: &str) -> Result<AxisValue, ModelError> {
        match self {
            Self::Optimizer => OptimizerKind::parse(s).map(AxisValue::Optimizer),
            Self::Init => Init::parse(s).map(AxisValue::Init),
            Self::Schedule => LrSchedule::parse(s).map(AxisValue::Schedule),
            _ => Norm::parse(s).map(AxisValue::Norm),
        }
    }
}

/// Where an axis belongs, which decides where a document may set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The network (`hidden`, `dropout`, ...).
    Network,
    /// The optimizer and its hyper-parameters.
    Optimizer,
    /// Training settings, also allowed at the top level of a document.
    Training,
}

/// How an axis reads and writes a [`RunConfig`].
#[derive(Clone, Copy)]
enum Access {
    /// A field of the configuration.
    Field {
        get: fn(&RunConfig) -> AxisValue,
        set: fn(&mut RunConfig, &AxisValue),
        /// Whether the value can change a run (e.g. `init_std` only for `init: normal`).
        applies: fn(&RunConfig) -> bool,
    },
    /// An optimizer hyper-parameter, read by the optimizers that declare it.
    Hyper(&'static Hyper),
}

/// The declaration of one axis.
#[derive(Clone, Copy)]
pub struct AxisDef {
    /// The YAML key, flag (with `-` for `_`) and column name.
    pub name: &'static str,
    /// The value type.
    pub kind: AxisKind,
    /// Where it belongs.
    pub group: Group,
    /// One line on what it does.
    pub doc: &'static str,
    access: Access,
}

/// Always relevant.
fn always(_: &RunConfig) -> bool {
    true
}

/// A value of the wrong kind reached [`Axis::set`]; the parser only builds matching pairs.
fn mismatch(axis: &str, value: &AxisValue) -> ! {
    panic!("value {value} does not fit axis {axis}")
}

/// Declares an axis backed by one field of [`RunConfig`].
macro_rules! field {
    ($name:literal, $kind:ident, $group:ident, $doc:literal, $($path:ident).+) => {
        field!($name, $kind, $group, $doc, $($path).+, always)
    };
    ($name:literal, $kind:ident, $group:ident, $doc:literal, $($path:ident).+, $applies:expr) => {
        AxisDef {
            name: $name,
            kind: AxisKind::$kind,
            group: Group::$group,
            doc: $doc,
            access: Access::Field {
                get: |r| AxisValue::$kind(ToOwned::to_owned(&r.$($path).+)),
                set: |r, v| match v {
                    AxisValue::$kind(x) => r.$($path).+ = ToOwned::to_owned(x),
                    other => mismatch($name, other),
                },
                applies: $applies,
            },
        }
    };
}

/// The axes before the optimizer's hyper-parameters.
pub const NETWORK: &[AxisDef] = &[
    field!(
        "hidden",
        Layers,
        Network,
        "hidden layer widths; input 784 and output 10 are implied",
        model.hidden
    ),
    AxisDef {
        name: "optimizer",
        kind: AxisKind::Optimizer,
        group: Group::Optimizer,
        doc: "the optimizer; its hyper-parameters take its defaults unless set",
        access: Access::Field {
            get: |r| AxisValue::Optimizer(r.optimizer.kind()),
            set: |r, v| match v {
                AxisValue::Optimizer(kind) => {
                    r.optimizer = OptimizerConfig::new(*kind, r.optimizer.lr);
                }
                other => mismatch("optimizer", other),
            },
            applies: always,
        },
    },
    field!("lr", Float, Optimizer, "learning rate (> 0)", optimizer.lr),
];

/// The axes after the optimizer's hyper-parameters: the rest of the network, then training.
pub const TRAINING: &[AxisDef] = &[
    field!(
        "dropout",
        Float,
        Network,
        "dropout probability after each hidden ReLU, in [0, 1)",
        model.dropout
    ),
    field!(
        "init",
        Init,
        Network,
        "weight initializer (biases keep nn.Linear's)",
        model.init
    ),
    field!(
        "init_std",
        Float,
        Network,
        "standard deviation of the `normal` initializer",
        model.init_std,
        |r| r.model.init == Init::Normal
    ),
    field!(
        "norm",
        Norm,
        Network,
        "normalization: Linear -> BatchNorm1d -> ReLU -> Dropout",
        model.norm
    ),
    field!(
        "epochs",
        Count,
        Training,
        "passes over the training part",
        train.epochs
    ),
    field!(
        "lr_schedule",
        Schedule,
        Training,
        "lr per epoch, as torch's CosineAnnealingLR(T_max=epochs) / StepLR",
        train.lr_schedule
    ),
    field!(
        "lr_step_size",
        Count,
        Training,
        "step schedule: epochs between two decays",
        train.lr_step_size,
        |r| r.train.lr_schedule == LrSchedule::Step
    ),
    field!(
        "lr_gamma",
        Float,
        Training,
        "step schedule: factor of each decay, in (0, 1]",
        train.lr_gamma,
        |r| r.train.lr_schedule == LrSchedule::Step
    ),
    field!(
        "batch_size",
        Count,
        Training,
        "mini-batch size",
        train.batch_size
    ),
    field!(
        "augment_shift",
        Count,
        Training,
        "random translation of each training image by up to N pixels per axis, every epoch (0-13)",
        train.augment_shift
    ),
    field!(
        "augment_flip",
        Bool,
        Training,
        "mirror each training image left-right with probability 1/2, every epoch",
        train.augment_flip
    ),
    field!(
        "validation",
        Count,
        Training,
        "images of the 60k training set held out for validation",
        train.validation
    ),
    field!(
        "train_subset",
        Subset,
        Training,
        "train on the first N images of the training part (null: all)",
        train.train_subset
    ),
    field!(
        "standardize",
        Bool,
        Training,
        "standardize inputs with the training mean/std",
        train.standardize
    ),
    field!(
        "split_seed",
        Seed,
        Training,
        "seed of the train/validation split (shared by all run seeds)",
        train.split_seed
    ),
];

/// Every axis declaration, in table order (built once).
fn table() -> &'static [AxisDef] {
    static TABLE: OnceLock<Vec<AxisDef>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let hypers = all_hypers().into_iter().map(|h| AxisDef {
            name: h.name,
            kind: if h.is_flag() {
                AxisKind::Bool
            } else {
                AxisKind::Float
            },
            group: Group::Optimizer,
            doc: h.doc,
            access: Access::Hyper(h),
        });
        NETWORK
            .iter()
            .copied()
            .chain(hypers)
            .chain(TRAINING.iter().copied())
            .collect()
    })
}

/// Every axis name, in table order.
pub fn axis_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| table().iter().map(|d| d.name).collect())
}

/// The names of the training axes, which may also be given at the top level of a document.
pub fn training_axis_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        table()
            .iter()
            .filter(|d| d.group == Group::Training)
            .map(|d| d.name)
            .collect()
    })
}

/// One hyper-parameter of a [`RunConfig`] that a search space can set: a position in the
/// axis table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Axis(usize);

impl Axis {
    /// Every axis, in table order.
    pub fn all() -> impl Iterator<Item = Axis> {
        (0..table().len()).map(Axis)
    }

    /// The axis with this exact key, if any.
    pub fn parse(name: &str) -> Option<Axis> {
        axis_names().iter().position(|a| *a == name).map(Axis)
    }

    /// The axis of a name declared in this module or by an optimizer.
    ///
    /// # Panics
    /// If no axis has that name (a typo in fcnsweep's own code).
    pub fn named(name: &str) -> Axis {
        Self::parse(name).unwrap_or_else(|| panic!("no axis named {name}"))
    }

    /// The declaration.
    pub fn def(self) -> &'static AxisDef {
        &table()[self.0]
    }

    /// The YAML key and column name of this axis.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The value type of this axis.
    pub fn kind(self) -> AxisKind {
        self.def().kind
    }

    /// Whether this is a training setting, allowed at the top level of a document.
    pub fn is_training(self) -> bool {
        self.def().group == Group::Training
    }

    /// Whether this is an optimizer hyper-parameter (declared by the optimizers).
    pub fn is_hyper(self) -> bool {
        matches!(self.def().access, Access::Hyper(_))
    }

    /// The optimizers that read this axis: all of them for a network or training axis.
    pub fn optimizers(self) -> Vec<OptimizerKind> {
        match self.def().access {
            Access::Hyper(h) => readers(h.name),
            Access::Field { .. } => OptimizerKind::ALL.to_vec(),
        }
    }

    /// The default value (what a document that does not set this axis gets). For an optimizer
    /// hyper-parameter it is the usual default; an optimizer may default to another value.
    pub fn default_value(self) -> AxisValue {
        self.get(&default_run())
    }

    /// This axis's current value in `run`; a hyper-parameter the optimizer does not read has
    /// its declared default.
    pub fn get(self, run: &RunConfig) -> AxisValue {
        match self.def().access {
            Access::Field { get, .. } => get(run),
            Access::Hyper(h) => hyper_axis_value(run.optimizer.get(h.name).unwrap_or(h.default)),
        }
    }

    /// Sets this axis in `run` to `value`. Setting a hyper-parameter the optimizer does not
    /// read changes nothing: such values are ignored, so a grid may cross `optimizer` with
    /// `momentum`.
    ///
    /// # Panics
    /// If `value` is not of this axis's [`AxisKind`]; the parser only builds matching pairs.
    pub fn set(self, run: &mut RunConfig, value: &AxisValue) {
        match self.def().access {
            Access::Field { set, .. } => set(run, value),
            Access::Hyper(h) => {
                let v = match value {
                    AxisValue::Float(v) => HyperValue::Float(*v),
                    AxisValue::Bool(v) => HyperValue::Bool(*v),
                    other => mismatch(h.name, other),
                };
                if run.optimizer.get(h.name).is_some() {
                    run.optimizer
                        .set(h.name, v)
                        .expect("the optimizer reads this hyper-parameter");
                }
            }
        }
    }

    /// Whether this axis's value can change `run`'s result: a hyper-parameter only for the
    /// optimizers that read it, `init_std` only for `init: normal`, the step schedule's
    /// settings only for `lr_schedule: step`.
    pub fn applies(self, run: &RunConfig) -> bool {
        match self.def().access {
            Access::Field { applies, .. } => applies(run),
            Access::Hyper(h) => run.optimizer.get(h.name).is_some(),
        }
    }

    /// Checks one value on its own (ranges, names), with every other setting at its default;
    /// returns what is expected. Rules across axes (`nesterov` needs momentum) wait for the
    /// whole configuration.
    pub fn check_value(self, value: &AxisValue) -> Result<(), String> {
        if let Access::Hyper(h) = self.def().access {
            let v = match value {
                AxisValue::Float(v) => HyperValue::Float(*v),
                AxisValue::Bool(v) => HyperValue::Bool(*v),
                other => return Err(format!("{other} is not a value for {}", h.name)),
            };
            return h.check(v).map_err(|e| e.to_string());
        }
        let mut run = default_run();
        self.set(&mut run, value);
        run.validate().map_err(|e| e.to_string())
    }

    /// The value of this integer axis for the integer `n`.
    pub fn int_value(self, n: u64) -> Result<AxisValue, String> {
        let count = || usize::try_from(n).map_err(|_| format!("{n} is too large for {self}"));
        match self.kind() {
            AxisKind::Seed => Ok(AxisValue::Seed(n)),
            AxisKind::Subset => Ok(AxisValue::Subset(Some(count()?))),
            _ => Ok(AxisValue::Count(count()?)),
        }
    }

    /// Parses a command-line value: widths as `500,50`, names, numbers, `true`/`false`, and
    /// `none` for an unset `train_subset`. Ranges are left to [`RunConfig::validate`], which
    /// sees the whole configuration.
    pub fn parse_value(self, s: &str) -> Result<AxisValue, String> {
        fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String>
        where
            T::Err: fmt::Display,
        {
            s.trim()
                .parse()
                .map_err(|e| format!("'{s}' is not {what}: {e}"))
        }
        Ok(match self.kind() {
            AxisKind::Layers => AxisValue::Layers(
                s.split(',')
                    .map(|w| num(w, "a layer width"))
                    .collect::<Result<_, _>>()?,
            ),
            AxisKind::Optimizer | AxisKind::Init | AxisKind::Norm | AxisKind::Schedule => {
                self.kind().parse_name(s).map_err(|e| e.to_string())?
            }
            AxisKind::Float => AxisValue::Float(num(s, "a number")?),
            AxisKind::Bool => AxisValue::Bool(num(s, "true or false")?),
            AxisKind::Count => AxisValue::Count(num(s, "an integer")?),
            AxisKind::Seed => AxisValue::Seed(num(s, "an integer")?),
            AxisKind::Subset => match s {
                "none" | "null" => AxisValue::Subset(None),
                _ => AxisValue::Subset(Some(num(s, "an integer or none")?)),
            },
        })
    }
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A hyper-parameter's value as an axis value.
fn hyper_axis_value(v: HyperValue) -> AxisValue {
    match v {
        HyperValue::Float(v) => AxisValue::Float(v),
        HyperValue::Bool(v) => AxisValue::Bool(v),
    }
}

/// The configuration every value is checked against alone: the built-in defaults (the
/// study's baseline, SGD at lr 0.1).
pub fn default_run() -> RunConfig {
    RunConfig {
        model: ModelConfig::default(),
        optimizer: OptimizerConfig::new(OptimizerKind::Sgd, 0.1),
        train: TrainConfig::default(),
    }
}

/// The configuration these settings make on top of the defaults, later settings winning.
///
/// The optimizer is chosen first, so its hyper-parameters start at its own defaults
/// (AdamW's weight decay 0.01) whatever the order of the settings.
pub fn build_run<'a>(settings: impl IntoIterator<Item = (Axis, &'a AxisValue)>) -> RunConfig {
    let settings: Vec<_> = settings.into_iter().collect();
    let optimizer = Axis::named("optimizer");
    let mut run = default_run();
    if let Some((axis, value)) = settings.iter().rev().find(|(a, _)| *a == optimizer) {
        axis.set(&mut run, value);
    }
    for (axis, value) in settings.iter().filter(|(a, _)| *a != optimizer) {
        axis.set(&mut run, value);
    }
    run
}

/// One value of one axis, typed by [`AxisKind`].
#[derive(Debug, Clone, PartialEq)]
pub enum AxisValue {
    /// Hidden layer widths.
    Layers(Vec<usize>),
    /// Optimizer algorithm.
    Optimizer(OptimizerKind),
    /// Weight initializer.
    Init(Init),
    /// Normalization.
    Norm(Norm),
    /// Learning-rate schedule.
    Schedule(LrSchedule),
    /// A real number.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// A count.
    Count(usize),
    /// A seed.
    Seed(u64),
    /// An optional count.
    Subset(Option<usize>),
}

impl AxisValue {
    /// The value as it appears in results and the database: `hidden` as `"500-50"`,
    /// enums by name, an unset `train_subset` as `null`.
    pub fn to_json(&self) -> Value {
        match self {
            AxisValue::Layers(v) => Value::String(layers_name(v)),
            AxisValue::Optimizer(v) => Value::from(v.name()),
            AxisValue::Init(v) => Value::from(v.name()),
            AxisValue::Norm(v) => Value::from(v.name()),
            AxisValue::Schedule(v) => Value::from(v.name()),
            AxisValue::Float(v) => Value::from(*v),
            AxisValue::Bool(v) => Value::from(*v),
            AxisValue::Count(v) => Value::from(*v),
            AxisValue::Seed(v) => Value::from(*v),
            AxisValue::Subset(v) => v.map_or(Value::Null, Value::from),
        }
    }
}

impl fmt::Display for AxisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisValue::Layers(v) => write!(f, "{v:?}"),
            AxisValue::Subset(None) => f.write_str("null"),
            other => match other.to_json() {
                Value::String(s) => f.write_str(&s),
                json => write!(f, "{json}"),
            },
        }
    }
}

/// Hidden widths joined by dashes (`[500, 50]` → `"500-50"`), the display form of `hidden`.
pub fn layers_name(widths: &[usize]) -> String {
    widths
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// Every axis of `run` with its display value, in table order (one database column each).
pub fn axis_values(run: &RunConfig) -> Vec<(&'static str, Value)> {
    Axis::all()
        .map(|axis| (axis.name(), axis.get(run).to_json()))
        .collect()
}

/// The axes whose values differ between at least two of `runs`, in table order.
///
/// The results table shows only these columns; an empty or single-config input gives none.
pub fn varying_axes(runs: &[&RunConfig]) -> Vec<&'static str> {
    Axis::all()
        .filter(|axis| {
            let mut values = runs.iter().map(|run| axis.get(run));
            match values.next() {
                Some(first) => values.any(|v| v != first),
                None => false,
            }
        })
        .map(|axis| axis.name())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> RunConfig {
        default_run()
    }

    #[test]
    fn names_and_order_agree() {
        for (i, axis) in Axis::all().enumerate() {
            assert_eq!(axis.0, i);
            assert_eq!(Axis::parse(axis.name()), Some(axis));
        }
        let names = axis_names();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "an axis name is declared twice");
        assert_eq!(&names[..4], ["hidden", "optimizer", "lr", "momentum"]);
        assert_eq!(names.last(), Some(&"split_seed"));
        for name in ["lr_decay", "initial_accumulator_value", "beta1", "centered"] {
            assert!(names.contains(&name), "{name}");
        }
        assert_eq!(Axis::parse("learning_rate"), None);
        assert!(Axis::named("epochs").is_training() && !Axis::named("lr").is_training());
        assert_eq!(
            Axis::named("nesterov").optimizers(),
            vec![OptimizerKind::Sgd]
        );
    }

    #[test]
    fn set_then_get_round_trips() {
        let mut run = build_run([(
            Axis::named("optimizer"),
            &AxisValue::Optimizer(OptimizerKind::Adam),
        )]);
        Axis::named("lr").set(&mut run, &AxisValue::Float(0.01));
        Axis::named("beta2").set(&mut run, &AxisValue::Float(0.98));
        Axis::named("train_subset").set(&mut run, &AxisValue::Subset(Some(5000)));
        assert_eq!(run.optimizer.lr, 0.01);
        assert_eq!(run.optimizer.get("beta2"), Some(HyperValue::Float(0.98)));
        assert_eq!(
            Axis::named("train_subset").get(&run),
            AxisValue::Subset(Some(5000))
        );
        // Adam does not read momentum: setting it changes nothing, reading it gives the default.
        Axis::named("momentum").set(&mut run, &AxisValue::Float(0.9));
        assert_eq!(run.optimizer.get("momentum"), None);
        assert_eq!(Axis::named("momentum").get(&run), AxisValue::Float(0.0));
    }

    #[test]
    fn the_optimizer_is_chosen_before_its_hyper_parameters() {
        let wd = AxisValue::Float(0.05);
        let adamw = AxisValue::Optimizer(OptimizerKind::AdamW);
        let a = build_run([
            (Axis::named("weight_decay"), &wd),
            (Axis::named("optimizer"), &adamw),
        ]);
        assert_eq!(
            a.optimizer.get("weight_decay"),
            Some(HyperValue::Float(0.05))
        );
        let b = build_run([(Axis::named("optimizer"), &adamw)]);
        assert_eq!(
            b.optimizer.get("weight_decay"),
            Some(HyperValue::Float(0.01))
        );
    }

    #[test]
    fn axis_values_render_for_tables() {
        let values = axis_values(&baseline());
        let names: Vec<_> = values.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, axis_names());
        let get = |name: &str| values.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("hidden"), Value::from("500-50"));
        assert_eq!(get("optimizer"), Value::from("sgd"));
        assert_eq!(get("init"), Value::from("default"));
        assert_eq!(get("lr"), Value::from(0.1));
        assert_eq!(get("train_subset"), Value::Null);
        assert_eq!(get("epochs"), Value::from(15));
        assert_eq!(get("eps"), Value::from(1e-8));
    }

    #[test]
    fn varying_axes_lists_differences_in_order() {
        let a = baseline();
        let mut b = baseline();
        b.optimizer.lr = 0.01;
        b.model.hidden = vec![100];
        let c = baseline();
        assert_eq!(varying_axes(&[&a, &b, &c]), vec!["hidden", "lr"]);
        assert!(varying_axes(&[&a, &c]).is_empty());
        assert!(varying_axes(&[]).is_empty());
    }

    #[test]
    fn command_line_values_parse_and_are_checked() {
        let hidden = Axis::named("hidden").parse_value("500, 50").unwrap();
        assert_eq!(hidden, AxisValue::Layers(vec![500, 50]));
        assert_eq!(
            Axis::named("optimizer").parse_value("AdamW").unwrap(),
            AxisValue::Optimizer(OptimizerKind::AdamW)
        );
        assert_eq!(
            Axis::named("train_subset").parse_value("none").unwrap(),
            AxisValue::Subset(None)
        );
        let err = Axis::named("epochs").parse_value("ten").unwrap_err();
        assert!(
            err.contains("'ten'") && err.contains("invalid digit"),
            "{err}"
        );
        let err = Axis::named("hidden").parse_value("500,x").unwrap_err();
        assert!(err.contains("'x'"), "{err}");
    }

    #[test]
    fn every_axis_is_in_the_readme_yaml_reference() {
        let readme = include_str!("../../../README.md");
        for name in axis_names() {
            assert!(
                readme.contains(&format!("  {name}: ")) || readme.contains(&format!("\n{name}: ")),
                "README's YAML reference does not document `{name}`"
            );
        }
        for kind in OptimizerKind::ALL {
            assert!(readme.contains(kind.name()), "README does not name {kind}");
        }
    }
}
